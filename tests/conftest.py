"""Fixtures shared by every test folder: the repository, its tools, and a built site."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
NODE_MODULES = REPO / "node_modules"
DOC_SOURCES = ("conf.py", "index.rst", "_theme", "getting-started", "reference", "howtos", "help")
# The demo sign-in that `make serve` uses; browser tests start the provider on these ports.
DEMO_CLIENT_ID = "ai4os-docs-demo"
# One asset cache for every test build: the bytecode compile (several seconds) runs once per
# machine, as it does for a maintainer, while each build still gets an empty output folder.
# ACCESS_CHECKER_TEST_CACHE moves it, so that two suites can run side by side.
TEST_CACHE = Path(os.environ.get("ACCESS_CHECKER_TEST_CACHE") or REPO / ".cache" / "test-builds")


def doctrees_of(outdir: Path) -> Path:
    """Where :func:`sphinx_build` keeps a build's doctrees and pickled environment: beside the
    output, not in it (the epub builder packs every file of its output)."""
    return outdir.parent / f"{outdir.name}.doctrees"


def sphinx_build(
    srcdir: Path, outdir: Path, *, builder: str = "html", env: dict[str, str] | None = None,
    extra: tuple[str, ...] = (), cache: Path | None = None, read_by: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """The strict build, as maintainers run it, in a subprocess (its own Sphinx process).

    ``read_by``: the output folder of an earlier build of the same sources whose doctrees this
    build starts from (a copy), so that Sphinx writes every page without reading them again, as
    ``make html latexpdf`` and Read the Docs do with their shared doctrees folder. Only for
    builds that read the sources as that one did: the same ``srcdir`` and ``html_baseurl`` (the
    ``access-checker`` directive writes it into the fallback as it reads the page, and Sphinx
    does not read again when it changes); other values may differ (builder, ``-D`` options of the
    extension, the demo sign-in's environment), and a changed source is read again as usual.
    """
    if read_by is not None:
        if any("html_baseurl" in arg for arg in extra) or (env or {}).get("READTHEDOCS_CANONICAL_URL"):
            raise ValueError("a build with another html_baseurl reads the sources itself (read_by=None)")
        # Beside the output (as here), or inside it (as the plain `sphinx-build -b html . _build/html`).
        inside = read_by / ".doctrees"
        shutil.copytree(inside if inside.is_dir() else doctrees_of(read_by), doctrees_of(outdir))
    overrides = [
        "-D", f"access_checker_node_modules={NODE_MODULES}",
        "-D", f"access_checker_cache_dir={cache or TEST_CACHE}",
    ]
    return subprocess.run(
        [sys.executable, "-m", "sphinx", "-n", "-W", "--keep-going", "-b", builder, *overrides, *extra,
         "-d", str(doctrees_of(outdir)), str(srcdir), str(outdir)],
        capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=600, check=False,
    )


def copy_site(target: Path) -> Path:
    """A copy of the documentation sources (and the policy of record) to break or edit."""
    target.mkdir(parents=True, exist_ok=True)
    for name in DOC_SOURCES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, target / name)
        else:
            shutil.copy2(source, target / name)
    policy = Path("checker/core/access_checker/policies/ai4os.toml")
    (target / policy).parent.mkdir(parents=True)
    shutil.copy2(REPO / policy, target / policy)
    return target


# ---- every test file runs -----------------------------------------------------------------
# pytest silently passes over folders it thinks are build output (its default norecursedirs
# names `build`), and a file whose tests all fail to be collected looks like a file with no
# tests. A full run (`pytest` with no paths, as `make test` and CI call it) therefore checks
# that each tests/**/test_*.py gave at least one test. A run of a subset is not checked.
_COLLECTED_FILES = pytest.StashKey[set[Path]]()


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    # Before -k/-m deselection: a file whose tests are all deselected was still collected.
    config.stash[_COLLECTED_FILES] = {Path(str(item.path)).resolve() for item in items}


def pytest_collection_finish(session: pytest.Session) -> None:
    config = session.config
    if config.args_source is not pytest.Config.ArgsSource.TESTPATHS:
        return
    on_disk = {p.resolve() for p in (REPO / "tests").rglob("test_*.py") if "node_modules" not in p.parts}
    missing = sorted(p.relative_to(REPO).as_posix() for p in on_disk - config.stash.get(_COLLECTED_FILES, set()))
    if missing:
        raise pytest.UsageError(
            "these test files gave no test to the full run, so it would never run them: "
            + ", ".join(missing) + ". Fix their collection (folder names, norecursedirs, import errors)."
        )


@pytest.fixture(scope="session")
def built_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real site, built strictly once per session into a temporary folder.

    The other builds of the real docs with the same sources and ``html_baseurl`` (the browser
    tests' site, the hostile one, the other builders) start from its doctrees (``read_by``):
    the sources are read once per session.
    """
    out = tmp_path_factory.mktemp("site") / "html"
    result = sphinx_build(REPO, out)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (out.parent / "build.log").write_text(result.stdout + result.stderr)
    return out
