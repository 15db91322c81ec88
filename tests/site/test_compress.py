"""Precompressed siblings (``compress``): beside every file the page downloads, exact, cached by content."""

from __future__ import annotations

import gzip
import json
import shutil
import zipfile
from pathlib import Path

import brotli  # type: ignore[import-untyped]
import pytest
from sphinx.errors import ConfigError

from sphinx_access_checker import assets, compress
from tests.conftest import NODE_MODULES, TEST_CACHE
from tests.site.conftest import BuildFn

BOOT_FILES = {"pyodide.asm.mjs", "pyodide.asm.wasm", "pyodide.mjs", "python_stdlib.zip"}
SUFFIXES = (".br", ".gz")


def _static(site: Path) -> Path:
    return site / "_static" / "access-checker"


def _served(site: Path) -> list[Path]:
    """Every file the page may download from the extension's folder, siblings left out."""
    return sorted(p for p in _static(site).rglob("*") if p.is_file() and p.suffix not in SUFFIXES)


def _assert_exact_siblings(path: Path) -> None:
    data = path.read_bytes()
    assert brotli.decompress(compress.sibling(path, ".br").read_bytes()) == data, path
    assert gzip.decompress(compress.sibling(path, ".gz").read_bytes()) == data, path


def test_every_file_the_page_downloads_has_siblings_that_decompress_to_it(built_site: Path) -> None:
    static = _static(built_site)
    runtime = next(static.glob("runtime-*"))
    originals = {p.name for p in runtime.iterdir() if p.suffix not in SUFFIXES}
    assert originals >= BOOT_FILES
    # The page passes the lock file's info itself (lockFileContents): the file does not ship.
    assert "pyodide-lock.json" not in originals
    served = _served(built_site)
    assert {p.name for p in served} >= BOOT_FILES | {"widget.mjs", "worker.mjs"}
    assert any(p.suffix == ".whl" for p in served) and any(p.suffix == ".toml" for p in served)
    for path in served:
        _assert_exact_siblings(path)
    # Nothing else: no sibling without its file, no temporary file left behind.
    siblings = {p for p in static.rglob("*") if p.is_file() and p.suffix in SUFFIXES}
    assert siblings == {compress.sibling(p, s) for p in served for s in SUFFIXES}
    assert not [p for p in static.rglob(".*")]


def test_the_siblings_are_smaller_where_it_matters(built_site: Path) -> None:
    runtime = next(_static(built_site).glob("runtime-*"))
    for name in ("pyodide.asm.wasm", "pyodide.asm.mjs"):
        raw = (runtime / name).stat().st_size
        br, gz = (compress.sibling(runtime / name, s).stat().st_size for s in SUFFIXES)
        assert br < gz < raw * 0.4, (name, raw, gz, br)


def test_the_zips_are_stored_so_that_http_compression_works_across_their_files(built_site: Path) -> None:
    """The wheel and the trimmed stdlib hold stored members: their siblings, not the zips, are compressed."""
    static = _static(built_site)
    wheel_file = next(static.glob("wheel-*/*.whl"))
    stdlib = next(static.glob("runtime-*/python_stdlib.zip"))
    for path in (wheel_file, stdlib):
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            assert infos and {i.compress_type for i in infos} == {zipfile.ZIP_STORED}, path
            assert archive.testzip() is None
        # Brotli across the files: well under half (the wheel's sources and pycs repeat their
        # names and strings; a deflated wheel came out at 97 % of its size).
        assert compress.sibling(path, ".br").stat().st_size < 0.4 * path.stat().st_size, path
    with zipfile.ZipFile(wheel_file) as archive:
        names = set(archive.namelist())
    # The sources stay beside the bytecode: tracebacks in the browser show their lines.
    assert "access_checker/policy.py" in names and "access_checker/policy.pyc" in names


def test_a_clean_build_with_a_warm_cache_compresses_nothing(make_app: BuildFn, monkeypatch: pytest.MonkeyPatch) -> None:
    first = make_app("html")
    store = TEST_CACHE / compress.FOLDER
    entries = {p.name: p.stat().st_mtime_ns for p in store.iterdir()}

    def refuse(suffix: str, data: bytes) -> bytes:
        raise AssertionError(f"compressed {len(data)} bytes ({suffix}) again")

    monkeypatch.setattr(compress, "encode", refuse)
    shutil.rmtree(first.outdir)
    again = make_app("html", freshenv=True)
    assert {p.name: p.stat().st_mtime_ns for p in store.iterdir()} == entries
    for path in _served(Path(again.outdir)):
        _assert_exact_siblings(path)


def test_siblings_are_cached_by_content_and_unchanged_files_are_not_even_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    cache, folder = tmp_path / "cache", tmp_path / "cache" / "static"
    folder.mkdir(parents=True)
    files = [folder / "a.mjs", folder / "b.wasm"]
    files[0].write_text("export const a = 1;\n" * 200)
    files[1].write_bytes(b"\0asm\x01\0\0\0" + bytes(range(256)) * 64)
    calls: list[tuple[str, int]] = []
    real = compress.encode

    def counted(suffix: str, data: bytes) -> bytes:
        calls.append((suffix, len(data)))
        return real(suffix, data)

    monkeypatch.setattr(compress, "encode", counted)
    compress.write_siblings(files, cache)
    assert sorted(calls) == sorted((s, p.stat().st_size) for p in files for s in SUFFIXES)
    for path in files:
        _assert_exact_siblings(path)

    # Unchanged: not read, not hashed, not compressed.
    calls.clear()
    read_bytes = Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes", lambda self: pytest.fail(f"{self} was read again"))
    compress.write_siblings(files, cache)
    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    assert calls == []

    # The same bytes elsewhere (a new generation's folder, a clean output): copied, not compressed.
    other = tmp_path / "cache" / "other"
    other.mkdir()
    copy = other / "a.mjs"
    shutil.copyfile(files[0], copy)
    compress.write_siblings([*files, copy], cache)
    assert calls == []
    _assert_exact_siblings(copy)

    # A changed file is compressed again, and the entries nothing uses any more are removed.
    files[0].write_text("export const a = 2;\n" * 200)
    compress.write_siblings(files, cache)
    assert sorted(s for s, _ in calls) == [".br", ".gz"]
    _assert_exact_siblings(files[0])
    store = cache / compress.FOLDER
    assert len([p for p in store.iterdir() if p.name != compress.INDEX]) == 2 * len(files)


def test_a_failed_compression_leaves_no_entry_and_no_sibling(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache, path = tmp_path / "cache", tmp_path / "cache" / "pyodide.mjs"
    cache.mkdir()
    path.write_text("export {};\n" * 100)

    def killed(data: bytes) -> bytes:
        raise KeyboardInterrupt  # a build stopped with Ctrl-C in the middle of brotli

    monkeypatch.setattr(compress, "brotli_bytes", killed)
    with pytest.raises(KeyboardInterrupt):
        compress.write_siblings([path], cache)
    store = cache / compress.FOLDER
    assert not [p for p in store.iterdir() if p.suffix == ".br" or p.name.startswith(".")]
    assert not compress.sibling(path, ".br").exists()
    monkeypatch.undo()
    compress.write_siblings([path], cache)
    _assert_exact_siblings(path)


def test_gzip_and_brotli_outputs_are_the_same_in_every_build() -> None:
    data = (NODE_MODULES / "pyodide" / "pyodide.mjs").read_bytes()
    packed = compress.gzip_bytes(data)
    assert packed == compress.gzip_bytes(data)
    # No file name (FLG bit 3), no timestamp (MTIME 0): nothing of the build's machine or time.
    assert packed[3] & 0x08 == 0 and packed[4:8] == b"\0\0\0\0"
    assert compress.brotli_bytes(data) == compress.brotli_bytes(data)


def test_the_lock_file_does_not_ship_but_is_still_verified(tmp_path: Path) -> None:
    pins = json.loads(assets.PYODIDE_PINS.read_text())
    package = tmp_path / "node_modules" / "pyodide"
    shutil.copytree(NODE_MODULES / "pyodide", package)
    lock = package / "pyodide-lock.json"
    lock.write_text(lock.read_text().replace('"packages"', '"packages" ', 1))
    with pytest.raises(ConfigError, match=r"pyodide-lock\.json does not match its pinned SHA-256"):
        assets._stage_runtime(pins, package, tmp_path / "runtime", None)
    assert "pyodide-lock.json" in assets.UNSERVED
