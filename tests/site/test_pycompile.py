"""Bytecode compiled by Pyodide's own interpreter (sphinx_access_checker.pycompile), for real.

Real Node, real Pyodide, no mocks: these tests fail (they do not skip) when node or
node_modules/pyodide is missing; run ``make setup`` first. One combined compile is shared by
the module; the other Node runs compile one part each, or boot Pyodide once.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from sphinx_access_checker import assets, pycompile
from sphinx_access_checker.pycompile import Compiled, CompileError
from tests.conftest import NODE_MODULES, REPO
from tests.site.pyodide_probe import pyodide_magic, require_node

PACKAGE_DIR = REPO / "checker/core/access_checker"
UNCHECKED_HASH = (0b01).to_bytes(4, "little")  # pyc flags: hash-based, source not checked
STDLIB_SHA256 = json.loads(assets.PYODIDE_PINS.read_text())["files"]["python_stdlib.zip"]


def compile_all(cache: Path, package_dir: Path = PACKAGE_DIR, node_modules: Path = NODE_MODULES) -> Compiled:
    """The compile step with the pinned stdlib digest (tests that compile pass a snapshot)."""
    return pycompile.compile_all(node_modules, cache, package_dir, stdlib_sha256=STDLIB_SHA256)


def _mtimes(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}


@pytest.fixture(scope="module")
def package_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A snapshot of the checker package: the module's compiles all see the same sources,
    even while someone edits the working tree."""
    return shutil.copytree(PACKAGE_DIR, tmp_path_factory.mktemp("src") / "access_checker",
                           ignore=shutil.ignore_patterns("__pycache__"))


@pytest.fixture(scope="module")
def compiled(package_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Compiled:
    """The stdlib and the checker package, compiled together (two Node runs side by side)."""
    require_node(NODE_MODULES)
    result = compile_all(tmp_path_factory.mktemp("cache-a"), package_dir)
    assert result.report is not None and {"stdlib", "package"} <= result.report.keys()
    return result


@pytest.fixture(scope="module")
def magic() -> bytes:
    """importlib.util.MAGIC_NUMBER read inside Pyodide (a boot of its own, nothing compiled)."""
    return pyodide_magic(NODE_MODULES)


def _stdlib_pycs(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist() if name.endswith(".pyc")}


def test_pyodide_magic_differs_from_the_host(magic: bytes, compiled: Compiled) -> None:
    assert len(magic) == 4 and magic.endswith(b"\r\n")
    assert magic != importlib.util.MAGIC_NUMBER, "the host CPython could have written these pycs itself"
    assert compiled.report is not None
    assert compiled.report["magic"] == magic.hex()
    assert compiled.report["cache_tag"] == "cpython-" + compiled.report["python"].replace(".", "")[:3]


def test_every_stdlib_pyc_is_pyodides_and_unchecked(compiled: Compiled, magic: bytes) -> None:
    source = NODE_MODULES / "pyodide" / "python_stdlib.zip"
    with zipfile.ZipFile(source) as stock, zipfile.ZipFile(compiled.stdlib) as ours:
        stock_names = stock.namelist()
        names = ours.namelist()
        py = [n for n in stock_names if n.endswith(".py")]
        # Sourceless: each .py became a .pyc at the same path; everything else is as it was.
        assert sorted(names) == names
        assert set(names) == {n[:-3] + ".pyc" for n in py} | {n for n in stock_names if not n.endswith(".py")}
        for name in stock_names:
            if not name.endswith(".py"):
                assert ours.read(name) == stock.read(name), name
        for info in ours.infolist():
            assert info.date_time == (1980, 1, 1, 0, 0, 0)
    pycs = _stdlib_pycs(compiled.stdlib)
    assert compiled.report is not None
    assert len(pycs) == len(py) == compiled.report["stdlib"]["compiled"] > 500
    assert compiled.report["stdlib"]["debug_ranges"] is False
    assert compiled.report["package"]["debug_ranges"] is True
    assert not compiled.report["stdlib"]["kept_source"]
    bad = [n for n, data in pycs.items() if data[:4] != magic or data[4:8] != UNCHECKED_HASH]
    assert not bad, f"{len(bad)} pycs with another magic number or flags, e.g. {bad[:5]}"


def test_every_package_pyc_is_pyodides_and_unchecked(compiled: Compiled, magic: bytes, package_dir: Path) -> None:
    expected = {
        f"access_checker/{p.relative_to(package_dir).with_suffix('.pyc').as_posix()}"
        for p in package_dir.rglob("*.py") if "__pycache__" not in p.parts
    }
    assert set(compiled.package) == expected
    assert "access_checker/policy.pyc" in compiled.package
    for name, data in compiled.package.items():
        assert data[:4] == magic, name
        assert data[4:8] == UNCHECKED_HASH, name


def test_the_stdlib_compiled_alone_has_the_same_bytes(compiled: Compiled, package_dir: Path, tmp_path: Path) -> None:
    """Another cache, another run (the stdlib alone, in a fresh interpreter): the same bytes.
    (A package compiled alone gives the combined run's bytes too: see the next-but-one test.)"""
    cache = shutil.copytree(compiled.stdlib.parent, tmp_path / "cache-b")
    (cache / compiled.stdlib.name).unlink()
    package_entries = _mtimes(cache)
    again = compile_all(cache, package_dir)
    assert again.report is not None and "package" not in again.report
    assert again.stdlib.name == compiled.stdlib.name
    assert again.stdlib.read_bytes() == compiled.stdlib.read_bytes()
    # The package entry was taken from the cache, not written again.
    assert {name: t for name, t in _mtimes(cache).items() if name in package_entries} == package_entries


def test_unchanged_inputs_do_not_run_node(
    compiled: Compiled, package_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = _mtimes(compiled.stdlib.parent)
    empty = tmp_path / "no-node"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))  # no node to run: the cache must answer alone
    again = compile_all(compiled.stdlib.parent, package_dir)
    assert again.report is None
    assert again.stdlib == compiled.stdlib and again.package == compiled.package
    assert _mtimes(compiled.stdlib.parent) == before, "a cache entry was written again"


def test_a_changed_source_recompiles_only_the_package(compiled: Compiled, package_dir: Path, tmp_path: Path) -> None:
    cache = shutil.copytree(compiled.stdlib.parent, tmp_path / "cache")
    copy = shutil.copytree(package_dir, tmp_path / "src" / "access_checker")
    with (copy / "claims.py").open("a") as handle:
        handle.write("\nADDED_FOR_THE_TEST = 1\n")
    stdlib = cache / compiled.stdlib.name
    before = stdlib.stat().st_mtime_ns
    result = compile_all(cache, copy)
    assert result.report is not None and "stdlib" not in result.report
    assert result.report["package"]["compiled"] == len(compiled.package)
    assert result.stdlib == stdlib and stdlib.stat().st_mtime_ns == before
    changed = {name for name in result.package if result.package[name] != compiled.package[name]}
    # Compiled alone, from another folder: every other pyc has the combined run's bytes.
    assert changed == {"access_checker/claims.pyc"}
    # The superseded package entry is gone; one entry per kind stays.
    assert len(list(cache.glob("package-access_checker-*.zip"))) == 1
    assert len(list(cache.glob("stdlib-*.zip"))) == 1


def test_missing_node_is_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(CompileError) as caught:
        compile_all(tmp_path / "cache")
    message = str(caught.value)
    assert message.startswith("Node 20+ is needed to precompile the runtime (or set access_checker_compile = False)")
    assert "\n" not in message


def _project(root: Path, engines: object) -> Path:
    """A project folder whose node_modules holds the real Pyodide, and its package.json."""
    (root / "node_modules").mkdir(parents=True)
    os.symlink(NODE_MODULES / "pyodide", root / "node_modules" / "pyodide")
    (root / "package.json").write_text(json.dumps({"name": "x", "engines": engines}))
    return root / "node_modules"


def test_the_node_minimum_comes_from_package_json(tmp_path: Path) -> None:
    require_node(NODE_MODULES)
    assert json.loads((REPO / "package.json").read_text())["engines"]["node"] == ">=20"
    with pytest.raises(CompileError, match=r"^Node 999\+ is needed to precompile the runtime .*: found v\d+"):
        compile_all(tmp_path / "cache", node_modules=_project(tmp_path / "new", {"node": ">=999"}))
    with pytest.raises(CompileError, match=r"engines\.node is '\^20'; write it as \">=MAJOR\""):
        compile_all(tmp_path / "cache", node_modules=_project(tmp_path / "odd", {"node": "^20"}))


def test_missing_pyodide_says_to_run_the_setup(tmp_path: Path) -> None:
    with pytest.raises(CompileError, match=r"run the set-up first \(`make setup`, which runs `npm ci`\)"):
        compile_all(tmp_path / "cache", node_modules=tmp_path / "node_modules")


def test_a_stdlib_zip_that_is_not_the_pinned_one_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CompileError, match=r"python_stdlib\.zip does not match its pinned SHA-256"):
        pycompile.compile_all(NODE_MODULES, tmp_path / "cache", PACKAGE_DIR, stdlib_sha256="0" * 64)
    assert not (tmp_path / "cache").exists()


def test_a_syntax_error_names_the_file_and_line(compiled: Compiled, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    shutil.copy2(compiled.stdlib, cache)  # only the package is compiled
    package = tmp_path / "broken"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "bad.py").write_text("x = 1\ndef (:\n")
    with pytest.raises(CompileError) as caught:
        compile_all(cache, package)
    message = str(caught.value)
    assert "broken/bad.py line 2: invalid syntax" in message and "\n" not in message
    assert "JobError" not in message
    assert sorted(p.name for p in cache.iterdir()) == [compiled.stdlib.name], "nothing cached for a failed run"


# Boots Pyodide on the compiled stdlib zip, puts the browser wheel on sys.path as the page does
# (widget.mjs: the file as it is, imported with zipimport), and reports where each module came
# from. Spies on the two places that compile source at import (zipimport, SourceLoader); the
# positive controls prove that the spies see a source import when there is one.
IMPORT_CHECK = r"""
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
const cfg = JSON.parse(process.argv[2]);
const { loadPyodide } = await import(pathToFileURL(path.join(cfg.pyodide, "pyodide.mjs")).href);
const pyodide = await loadPyodide({ indexURL: cfg.pyodide + path.sep, stdLibURL: cfg.stdlib,
                                    stdout: (l) => process.stderr.write(l + "\n") });
pyodide.FS.writeFile(cfg.wheelFile, new Uint8Array(fs.readFileSync(cfg.wheel)));
pyodide.runPython(`import sys; sys.path.append(${JSON.stringify(cfg.wheelFile)})`);
pyodide.globals.set("cfg_json", JSON.stringify(cfg));
process.stdout.write(pyodide.runPython(String.raw`
import importlib, importlib._bootstrap_external as bx, importlib.util, json, os, sys, traceback, zipfile, zipimport
cfg = json.loads(cfg_json)
preloaded = [m for m in cfg["modules"] if m in sys.modules]
compiled_from_source = []
_zip_compile, _source_to_code = zipimport._compile_source, bx.SourceLoader.source_to_code
def zip_spy(pathname, source):
    compiled_from_source.append(pathname)
    return _zip_compile(pathname, source)
def loader_spy(self, data, path, *args, **kwargs):
    compiled_from_source.append(path)
    return _source_to_code(self, data, path, *args, **kwargs)
zipimport._compile_source, bx.SourceLoader.source_to_code = zip_spy, loader_spy
# Positive controls: plain sources, in a zip and in a folder.
os.makedirs("/controls", exist_ok=True)
with zipfile.ZipFile("/controls/c.zip", "w") as z:
    z.writestr("control_zip.py", "X = 1\n")
with open("/controls/control_dir.py", "w") as f:
    f.write("X = 1\n")
sys.path[:0] = ["/controls/c.zip", "/controls"]
report = {"magic": importlib.util.MAGIC_NUMBER.hex(), "preloaded": preloaded, "modules": {}}
for name in cfg["modules"] + ["control_zip", "control_dir"]:
    module = importlib.import_module(name)
    report["modules"][name] = {"file": module.__file__, "loader": type(module.__loader__).__name__}
report["compiled_from_source"] = compiled_from_source
# A failure inside the package: its traceback frames, with the source lines they show.
from access_checker.policy import PolicyError, parse_policy
try:
    parse_policy(b"version = [", "broken.toml")
except PolicyError as error:
    report["frames"] = [[f.filename, f.line] for f in traceback.extract_tb(error.__traceback__)]
    # Through the standard library too (tomllib's error, which PolicyError replaces), which has
    # no sources here: line numbers, no columns.
    report["stdlib_frames"] = [[f.filename, f.lineno, f.colno] for f in
                               traceback.extract_tb(error.__context__.__traceback__) if "tomllib" in f.filename]
from access_checker.web.session import code_origin
report["code_origin"] = code_origin()
# The file names the compile step gave the code objects: what tracebacks show.
report["code_files"] = [json.dumps.__code__.co_filename, parse_policy.__code__.co_filename]
# Docstrings: none in the standard library (compiled as -OO would), the checker's kept; the
# interpreter itself runs unoptimized.
import access_checker.policy, dataclasses, email.utils, tomllib
report["docs"] = {"json": json.__doc__, "json.dumps": json.dumps.__doc__, "tomllib.loads": tomllib.loads.__doc__,
                  "email.utils.parseaddr": email.utils.parseaddr.__doc__,
                  "dataclasses.dataclass": dataclasses.dataclass.__doc__,
                  "access_checker.policy": access_checker.policy.__doc__, "parse_policy": parse_policy.__doc__}
report["optimize"] = sys.flags.optimize
# Column positions (the ^^^^ under a source line): none in the stdlib, which ships no sources.
def has_columns(code):
    return any(column is not None for _, _, column, _ in code.co_positions())
report["columns"] = {"json.dumps": has_columns(json.dumps.__code__), "parse_policy": has_columns(parse_policy.__code__)}
json.dumps(report)
`) + "\n");
"""


def _browser_wheel(compiled: Compiled, package_dir: Path, out: Path) -> Path:
    """The wheel as the build ships it, with one change: its ``__init__.py`` cannot run, so an
    import that used the source instead of the pyc beside it would fail."""
    from sphinx_access_checker import wheel

    built = wheel.build_wheel(package_dir, "1.0.0", out / "built" / wheel.wheel_name("1.0.0"), extra_files=compiled.package)
    stale = out / wheel.wheel_name("1.0.0")
    with zipfile.ZipFile(built) as source, zipfile.ZipFile(stale, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "access_checker/__init__.py":
                data += b"\nraise ImportError('imported from source, not from the pyc')\n"
            target.writestr(info, data)
    return stale


def test_pyodide_imports_the_bytecode(compiled: Compiled, magic: bytes, package_dir: Path, tmp_path: Path) -> None:
    node = require_node(NODE_MODULES)
    wheel_path = _browser_wheel(compiled, package_dir, tmp_path)
    stdlib_modules = ["json", "tomllib", "email.utils", "dataclasses", "xml.etree.ElementTree"]
    package_modules = ["access_checker", "access_checker.policy", "access_checker.request", "access_checker.web.views"]
    script = tmp_path / "import_check.mjs"
    script.write_text(IMPORT_CHECK)
    wheel_file = f"/lib/{wheel_path.name}"
    cfg = {"pyodide": str(NODE_MODULES / "pyodide"), "stdlib": str(compiled.stdlib), "wheel": str(wheel_path),
           "wheelFile": wheel_file, "modules": stdlib_modules + package_modules}
    done = subprocess.run([node, str(script), json.dumps(cfg)], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    modules = report["modules"]

    assert report["magic"] == magic.hex()
    # The controls went through the spies: a source import would have been seen.
    assert any(p.endswith("control_zip.py") for p in report["compiled_from_source"])
    assert any(p.endswith("control_dir.py") for p in report["compiled_from_source"])
    assert modules["control_zip"]["file"].endswith("control_zip.py")
    compiled_paths = [p for p in report["compiled_from_source"] if "control_" not in p]
    assert compiled_paths == [], f"compiled from source at import: {compiled_paths}"

    assert compiled.report is not None
    major, minor = compiled.report["python"].split(".")[:2]
    stdlib_zip = f"/lib/python{major}{minor}.zip/"  # where Pyodide puts the stdlib zip at boot
    for name in stdlib_modules:
        info = modules[name]
        # zipimport names a module after the member it loaded: the .pyc.
        assert info["file"].startswith(stdlib_zip) and info["file"].endswith(".pyc"), (name, info)
        assert info["loader"] == "zipimporter"
    assert modules["json"]["file"] == stdlib_zip + "json/__init__.pyc"
    for name in package_modules:
        info = modules[name]
        assert info["file"].startswith(wheel_file + "/") and info["file"].endswith(".pyc"), (name, info)
        assert info["loader"] == "zipimporter", (name, info)
    assert modules["access_checker.policy"]["file"] == wheel_file + "/access_checker/policy.pyc"
    assert report["code_origin"] == "bytecode"

    # Code objects keep the names the sources had (stdlib: as zipimport names them; package:
    # its archive path), so that a traceback in the browser names the real module file.
    assert report["code_files"] == [stdlib_zip + "json/__init__.py", "access_checker/policy.py"]
    # The standard library's pycs carry no docstrings (STDLIB_OPTIMIZE = 2), and they load:
    # zipimport takes a sourceless .pyc whatever level wrote it. The checker's keep theirs.
    docs = report["docs"]
    ours_docs = [docs.pop("access_checker.policy"), docs.pop("parse_policy")]
    assert all(isinstance(doc, str) and doc.strip() for doc in ours_docs), ours_docs
    assert docs == dict.fromkeys(docs), docs
    assert report["optimize"] == 0
    # Nor column positions (compiled with PYTHONNODEBUGRANGES); line numbers stay. The
    # checker's keep theirs, for the carets under its source lines in tracebacks.
    assert report["columns"] == {"json.dumps": False, "parse_policy": True}
    assert report["stdlib_frames"], report["frames"]
    for file, lineno, colno in report["stdlib_frames"]:
        assert file.startswith(stdlib_zip) and lineno > 0 and colno is None, (file, lineno, colno)
    # Tracebacks through the package show its source lines, read from the wheel.
    ours = [(file, line) for file, line in report["frames"] if file.endswith("access_checker/policy.py")]
    assert ours, report["frames"]
    source = (package_dir / "policy.py").read_text()
    for _, line in ours:
        assert line and line in source, (line, report["frames"])
