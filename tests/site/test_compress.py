"""Precompressed siblings (``compress``): beside every file the page downloads, exact, cached by content."""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import threading
import zipfile
from collections.abc import Callable
from pathlib import Path

import brotli  # type: ignore[import-untyped]
import pytest
from sphinx.errors import ConfigError, ExtensionError
from sphinx.testing.util import SphinxTestApp

from sphinx_access_checker import assets, compress
from tests.conftest import NODE_MODULES, TEST_CACHE
from tests.site.conftest import BuildFn, write_project

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


def _entries(store: Path) -> dict[str, int]:
    return {p.relative_to(store).as_posix(): p.stat().st_mtime_ns for p in store.rglob("*") if p.is_file()}


def test_a_clean_build_with_a_warm_cache_compresses_nothing(make_app: BuildFn, monkeypatch: pytest.MonkeyPatch) -> None:
    first = make_app("html")
    store = TEST_CACHE / compress.FOLDER
    entries = _entries(store)
    assert {e.split("/")[0] for e in entries} == {"runtime", "static"}

    def refuse(suffix: str, data: bytes) -> bytes:
        raise AssertionError(f"compressed {len(data)} bytes ({suffix}) again")

    def no_thread(work: compress.Siblings) -> None:
        raise AssertionError(f"a compression thread started for {work.missing} files")

    monkeypatch.setattr(compress, "encode", refuse)
    monkeypatch.setattr(assets, "RuntimeCompression", no_thread)
    shutil.rmtree(first.outdir)
    again = make_app("html", freshenv=True)
    assert _entries(store) == entries
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
    store = cache / compress.FOLDER / "default"
    assert len([p for p in store.iterdir() if p.name != compress.INDEX]) == 2 * len(files)


def _slow_encode_meeting(monkeypatch: pytest.MonkeyPatch, parties: int) -> None:
    """compress.encode waits, on its first call per input, until ``parties`` inputs are being compressed."""
    barrier, lock, seen = threading.Barrier(parties, timeout=30), threading.Lock(), set()
    real = compress.encode

    def meeting(suffix: str, data: bytes) -> bytes:
        with lock:
            first = data not in seen
            seen.add(data)
        if first:
            barrier.wait()
        return real(suffix, data)

    monkeypatch.setattr(compress, "encode", meeting)


def test_two_groups_share_a_cache_and_keep_each_others_entries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    runtime, static = tmp_path / "runtime", tmp_path / "static"
    runtime.mkdir()
    static.mkdir()
    ours, theirs = runtime / "pyodide.mjs", static / "widget.mjs"
    ours.write_text("export const runtime = 1;\n" * 100)
    theirs.write_text("export const widget = 1;\n" * 100)
    compress.write_siblings([ours], cache, group="runtime")
    compress.write_siblings([theirs], cache, group="static")
    store = cache / compress.FOLDER
    static_entries = _entries(store / "static")
    assert len(static_entries) == 3  # .br, .gz, index.json

    # A call for one group removes that group's unused entries only, and keeps the other's index.
    ours.write_text("export const runtime = 2;\n" * 100)
    compress.write_siblings([ours], cache, group="runtime")
    assert _entries(store / "static") == static_entries
    assert len(_entries(store / "runtime")) == 3
    compress.write_siblings([theirs], cache, group="static")  # nothing to do: not even the index changes
    assert _entries(store / "static") == static_entries

    # Both at once, as a build does (the runtime in a thread, the small files in the build's own):
    # each compresses while the other is compressing, and neither loses the other's work.
    ours.write_text("export const runtime = 3;\n" * 100)
    theirs.write_text("export const widget = 3;\n" * 100)
    _slow_encode_meeting(monkeypatch, parties=2)
    work = compress.Siblings([ours], cache, group="runtime")
    assert work.missing == 1
    errors: list[BaseException] = []

    def in_thread() -> None:
        try:
            work.complete()
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    thread = threading.Thread(target=in_thread)
    thread.start()
    compress.write_siblings([theirs], cache, group="static")
    thread.join(60)
    assert not thread.is_alive() and not errors
    for path in (ours, theirs):
        _assert_exact_siblings(path)
    for group, path in (("runtime", ours), ("static", theirs)):
        index = json.loads((store / group / compress.INDEX).read_text())
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        assert [entry["sha256"] for entry in index.values()] == [digest]
        assert sorted(_entries(store / group)) == sorted([compress.INDEX, f"{digest}.br", f"{digest}.gz"])


ColdFn = Callable[[str], tuple[Path, Path]]


@pytest.fixture
def cold(make_app: BuildFn, tmp_path: Path) -> ColdFn:
    """A project whose cache (a copy of the test builds') lacks the compressed copies of one
    runtime file; returns the project's folder and that file, staged."""
    make_app("html")  # the test builds' cache, complete

    def project(name: str) -> tuple[Path, Path]:
        cache = shutil.copytree(TEST_CACHE, tmp_path / "cache")
        staged = next((cache / "runtime").glob(f"runtime-*/{name}"))
        digest = hashlib.sha256(staged.read_bytes()).hexdigest()
        for suffix in SUFFIXES:
            compress.sibling(staged, suffix).unlink()
            (cache / compress.FOLDER / assets.RUNTIME_GROUP / f"{digest}{suffix}").unlink()
        write_project(tmp_path / "cold", extra_conf=f"access_checker_cache_dir = {str(cache)!r}\n")
        return tmp_path / "cold", staged

    return project


def _cold_app(src: Path, **kwargs: object) -> SphinxTestApp:
    """The app, built up to builder-inited, where the extension stages and starts compressing."""
    return SphinxTestApp("html", srcdir=src, builddir=src.parent / "cold-build", **kwargs)  # type: ignore[arg-type]


# pyodide.mjs: an npm boot file, which the thread starts on before the compile step;
# python_stdlib.zip: made by the build, handed to the thread once staged.
@pytest.mark.parametrize("name", ["pyodide.mjs", "python_stdlib.zip"])
def test_the_runtime_is_compressed_while_sphinx_builds_the_pages(
    cold: ColdFn, name: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    src, staged = cold(name)
    pages_read = threading.Event()

    def after_the_pages_are_read(suffix: str, data: bytes) -> bytes:
        # Compressing before the build reads its pages would wait here in vain: the reading
        # starts only when builder-inited is over.
        if not pages_read.wait(30):
            raise AssertionError("the runtime was compressed before Sphinx read the pages, not beside it")
        # A fast setting, still a real brotli stream: the siblings must decompress to the file.
        return bytes(brotli.compress(data, quality=1)) if suffix == ".br" else compress.gzip_bytes(data)

    monkeypatch.setattr(compress, "encode", after_the_pages_are_read)
    app = _cold_app(src)
    try:
        assert not compress.sibling(staged, ".br").exists()  # builder-inited is over; brotli is not
        app.connect("env-updated", lambda app, env: pages_read.set())
        app.build()
        assert app.statuscode == 0
        log = app.status.getvalue()
        assert "compressing the runtime with brotli and gzip in the background while Sphinx builds the pages" in log
        assert "compressed the runtime (brotli 11, gzip 9) in" in log
        served = next((Path(app.outdir) / "_static" / "access-checker").glob(f"runtime-*/{name}"))
        _assert_exact_siblings(served)
        _assert_exact_siblings(staged)
        assert str(app.outdir) not in assets._COMPRESSING
    finally:
        app.cleanup()


def test_an_error_in_the_compression_thread_fails_the_build_with_its_message(
    cold: ColdFn, monkeypatch: pytest.MonkeyPatch,
) -> None:
    src, mjs = cold("pyodide.mjs")

    def disk_full(suffix: str, data: bytes) -> bytes:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(compress, "encode", disk_full)
    app = _cold_app(src)
    try:
        with pytest.raises(ExtensionError, match=r"compressing the runtime failed: OSError: \[Errno 28\] No space left on device"):
            app.build()
        assert not compress.sibling(mjs, ".br").exists()
        assert not list((Path(app.outdir) / "_static" / "access-checker").glob("runtime-*"))
    finally:
        app.cleanup()


def test_with_parallel_workers_the_runtime_is_compressed_before_any_fork(cold: ColdFn) -> None:
    """Sphinx forks its workers after builder-inited: no thread may be running then."""
    src, mjs = cold("pyodide.mjs")
    app = _cold_app(src, parallel=2)
    try:
        assert str(app.outdir) not in assets._COMPRESSING
        _assert_exact_siblings(mjs)  # written during builder-inited
    finally:
        app.cleanup()


def test_a_failed_compression_leaves_no_entry_and_no_sibling(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache, path = tmp_path / "cache", tmp_path / "cache" / "pyodide.mjs"
    cache.mkdir()
    path.write_text("export {};\n" * 100)

    def killed(data: bytes) -> bytes:
        raise KeyboardInterrupt  # a build stopped with Ctrl-C in the middle of brotli

    monkeypatch.setattr(compress, "brotli_bytes", killed)
    with pytest.raises(KeyboardInterrupt):
        compress.write_siblings([path], cache)
    store = cache / compress.FOLDER / "default"
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
