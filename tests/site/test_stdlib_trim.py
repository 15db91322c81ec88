"""The trimmed standard library (``sphinx_access_checker.stdlib_trim``), for real: Node, Pyodide, no mocks.

The committed list is what a fresh trace of the worker gives; the session runs on the trimmed
zip through every message the page sends, exactly as on the whole stdlib; a module left out
stops the run with its name; the zip is stored, deterministic and cached; a build ships it by
default, and stages the whole compiled stdlib when ``access_checker_trim_stdlib`` is off. These tests
fail (they do not skip) when node or node_modules/pyodide is missing: run ``make setup`` first.
"""

from __future__ import annotations

import difflib
import json
import shutil
import zipfile
from pathlib import Path

import pytest
from sphinx.errors import ConfigError, SphinxError

from sphinx_access_checker import assets, pycompile, stdlib_trim, wheel
from sphinx_access_checker.pycompile import Compiled
from sphinx_access_checker.stdlib_trim import LIST_FILE, Trace, TraceError
from tests.conftest import NODE_MODULES, REPO, TEST_CACHE
from tests.site.conftest import BuildFn, write_project
from tests.site.pyodide_probe import require_node

PACKAGE_DIR = REPO / "checker/core/access_checker"
POLICY = PACKAGE_DIR / "policies/ai4os.toml"
PINS = json.loads(stdlib_trim.PINS.read_text())


@pytest.fixture(scope="module")
def compiled() -> Compiled:
    """The compile step's output, from the test builds' cache (compiled there once per machine)."""
    require_node(NODE_MODULES)
    return pycompile.compile_all(NODE_MODULES, TEST_CACHE / "pyc", PACKAGE_DIR,
                                 stdlib_sha256=PINS["files"]["python_stdlib.zip"])


@pytest.fixture(scope="module")
def browser_wheel(compiled: Compiled, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel as the build ships it: sources and a pyc beside each."""
    out = tmp_path_factory.mktemp("wheel") / wheel.wheel_name("1.0.0")
    return wheel.build_wheel(PACKAGE_DIR, "1.0.0", out, extra_files=compiled.package)


@pytest.fixture(scope="module")
def full_trace(compiled: Compiled, browser_wheel: Path) -> Trace:
    return stdlib_trim.run_trace(NODE_MODULES, compiled.stdlib, browser_wheel, POLICY)


@pytest.fixture(scope="module")
def trimmed(compiled: Compiled, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return stdlib_trim.trim(compiled.stdlib, tmp_path_factory.mktemp("trimmed"))


def _comparable(trace: Trace) -> list[dict[str, object]]:
    """What each reply said, without what changes from run to run (new request ids, times)."""
    return [{"crashed": "crashed" in r, **{k: r.get("reply", {}).get(k) for k in ("type", "id", "announce", "focus")},
             "slots": sorted(r.get("reply", {}).get("slots", {}))} for r in trace.replies]


def test_the_list_is_a_fresh_trace_of_the_worker(full_trace: Trace) -> None:
    fresh = stdlib_trim.render_list(full_trace.rows)
    committed = LIST_FILE.read_text(encoding="utf-8")
    diff = "\n".join(difflib.unified_diff(committed.splitlines(), fresh.splitlines(), LIST_FILE.name, "trace",
                                         lineterm="", n=0))
    assert fresh == committed, f"{LIST_FILE.name} is not what the worker loads now; run `{stdlib_trim.REFRESH}`:\n{diff}"
    assert full_trace.code_origin == "bytecode"
    rows = {r["name"]: r for r in full_trace.rows}
    # Pyodide's start-up (what loadPyodide imports from the zip), the checker, and encodings whole.
    assert rows["_pyodide._base"]["origin"] == rows["pyodide._package_loader"]["origin"] == "zip"
    assert rows["access_checker.web.session"] == {"name": "access_checker.web.session", "origin": "wheel", "phase": "import"}
    assert rows["encodings.idna"]["origin"] == rows["encodings.mbcs"]["origin"] == "zip"
    assert rows["stringprep"]["phase"] == "encodings"  # encodings.idna needs it
    # Frozen into the interpreter: not shipped.
    assert rows["os"]["origin"] == rows["importlib._bootstrap"]["origin"] == "frozen"


def test_the_session_runs_on_the_trimmed_stdlib_as_on_the_whole_one(
    full_trace: Trace, trimmed: Path, browser_wheel: Path,
) -> None:
    # run_trace itself fails when a reply is not the expected one or a message crashed.
    on_trimmed = stdlib_trim.run_trace(NODE_MODULES, trimmed, browser_wheel, POLICY)
    assert {r["name"] for r in on_trimmed.rows} == {r["name"] for r in full_trace.rows}
    assert _comparable(on_trimmed) == _comparable(full_trace)
    assert on_trimmed.code_origin == "bytecode"
    kinds = {r["reply"]["type"] for r in on_trimmed.replies if "reply" in r}
    sent = {m.message["type"] for m in stdlib_trim.steps(0)}
    assert kinds == {"render"} and {"show", "input", "blur", "submit", "action"} <= sent
    assert [r["crashed"].strip().splitlines()[-1] for r in on_trimmed.replies if "crashed" in r] == [
        "access_checker.web.session.ProtocolError: unknown message 'explode'",
        "access_checker.web.session.ProtocolError: protocol version 2, expected 1",
    ]


def test_a_module_left_out_stops_the_trace_with_its_name(compiled: Compiled, browser_wheel: Path, tmp_path: Path) -> None:
    listed = LIST_FILE.read_text(encoding="utf-8")
    short = tmp_path / LIST_FILE.name
    short.write_text("\n".join(line for line in listed.splitlines() if not line.startswith("uuid ")) + "\n")
    broken = stdlib_trim.trim(compiled.stdlib, tmp_path / "cache", list_file=short)
    with pytest.raises(TraceError, match=r"No module named 'uuid'"):
        stdlib_trim.run_trace(NODE_MODULES, broken, browser_wheel, POLICY)


def test_the_trimmed_zip_is_stored_deterministic_and_cached(compiled: Compiled, trimmed: Path, tmp_path: Path) -> None:
    shipped = stdlib_trim.shipped(stdlib_trim.parse_list(LIST_FILE.read_text(encoding="utf-8")))
    with zipfile.ZipFile(trimmed) as archive, zipfile.ZipFile(compiled.stdlib) as whole:
        infos = archive.infolist()
        names = [i.filename for i in infos]
        assert names == sorted(names) and len(names) == len(shipped) > 200
        assert {n.removesuffix(".pyc").removesuffix("/__init__").replace("/", ".") for n in names} == set(shipped)
        for info in infos:
            assert info.compress_type == zipfile.ZIP_STORED and info.date_time == (1980, 1, 1, 0, 0, 0), info
            assert archive.read(info) == whole.read(info.filename)
        assert {n for n in whole.namelist() if n.startswith("encodings/") and n.endswith(".pyc")} <= set(names)
    again = stdlib_trim.trim(compiled.stdlib, tmp_path)
    assert again.name == trimmed.name and again.read_bytes() == trimmed.read_bytes()
    before = again.stat().st_mtime_ns
    assert stdlib_trim.trim(compiled.stdlib, tmp_path) == again and again.stat().st_mtime_ns == before
    # Another list, another name: the runtime folder's name follows the content.
    other = tmp_path / "other.txt"
    other.write_text(LIST_FILE.read_text(encoding="utf-8").replace("\nuuid ", "\n# uuid "))
    assert stdlib_trim.trim(compiled.stdlib, tmp_path / "other", list_file=other).name != trimmed.name


def test_the_npm_stdlib_is_trimmed_when_compiling_is_off(tmp_path: Path) -> None:
    stock = NODE_MODULES / "pyodide" / "python_stdlib.zip"
    sources = stdlib_trim.trim(stock, tmp_path, source_sha256=PINS["files"]["python_stdlib.zip"])
    with zipfile.ZipFile(sources) as archive:
        assert "json/__init__.py" in archive.namelist() and not [n for n in archive.namelist() if n.endswith(".pyc")]
    with pytest.raises(stdlib_trim.TrimError, match="does not match its pinned SHA-256"):
        stdlib_trim.trim(stock, tmp_path / "other", source_sha256="0" * 64)


def test_a_list_naming_a_module_the_stdlib_lacks_stops_the_build(make_app: BuildFn, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    wrong = tmp_path / LIST_FILE.name
    wrong.write_text(LIST_FILE.read_text(encoding="utf-8") + "no_such_module                          zip         session\n")
    original = stdlib_trim.trim
    monkeypatch.setattr(stdlib_trim, "trim", lambda *a, **k: original(*a, **{**k, "list_file": wrong}))
    with pytest.raises(ConfigError, match=r"1 module\(s\) of stdlib-modules\.txt are not in .*\(no_such_module\): "
                                          r"refresh the list with `.*stdlib_trim --write`, or set access_checker_trim_stdlib = False"):
        make_app("html")


class _StoppedAfterStagingError(SphinxError):
    """Raised once the build has staged its runtime: what the test checks is there by then."""


def test_the_build_ships_the_trimmed_stdlib_unless_told_not_to(
    built_site: Path, make_app: BuildFn, compiled: Compiled, trimmed: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # On (the default): the session's build of the real site ships it.
    runtimes = sorted((built_site / "_static" / "access-checker").glob("runtime-*"))
    assert len(runtimes) == 1, runtimes
    trimmed_site = runtimes[0] / "python_stdlib.zip"
    shipped = stdlib_trim.shipped(stdlib_trim.parse_list(LIST_FILE.read_text(encoding="utf-8")))
    with zipfile.ZipFile(trimmed_site) as archive:
        assert len(archive.namelist()) == len(shipped)
        assert {i.compress_type for i in archive.infolist()} == {zipfile.ZIP_STORED}
    assert trimmed_site.read_bytes() == trimmed.read_bytes()

    # Off: a real build of a project with the option off, stopped once it has staged its runtime
    # (the real staging function, watched). What would follow is the same with the option on,
    # except compressing a whole stdlib that no other build ships: a minute of brotli on a fresh
    # machine, and a runtime generation that would push the trimmed one out of the shared cache.
    real_stage_runtime = assets._stage_runtime
    staged: list[Path] = []

    def stage_then_stop(pins: dict[str, object], package: Path, target_root: Path, stdlib: Path | None) -> str:
        name = real_stage_runtime(pins, package, target_root, stdlib)
        staged.append(target_root / name)
        raise _StoppedAfterStagingError(name)

    monkeypatch.setattr(assets, "_stage_runtime", stage_then_stop)
    write_project(tmp_path / "whole", extra_conf="access_checker_trim_stdlib = False\n")
    with pytest.raises(_StoppedAfterStagingError):
        make_app("html", srcdir=tmp_path / "whole")
    [runtime] = staged
    assert runtime.name != trimmed_site.parent.name  # another content, another folder
    whole_is_compiled = (runtime / "python_stdlib.zip").read_bytes() == compiled.stdlib.read_bytes()
    shutil.rmtree(runtime)  # staged in the shared cache, where no build of the session ships it
    assert whole_is_compiled, "with access_checker_trim_stdlib = False the runtime is not the whole compiled stdlib"


def test_the_option_must_be_a_boolean(make_app: BuildFn, tmp_path: Path) -> None:
    write_project(tmp_path / "src", extra_conf='access_checker_trim_stdlib = "no"\n')
    with pytest.raises(ConfigError, match="access_checker_trim_stdlib must be bool, not str"):
        make_app("html")
