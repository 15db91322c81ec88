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
DOC_SOURCES = ("conf.py", "index.rst", "getting-started", "reference", "howtos", "help")
# The demo sign-in that `make serve` uses; browser tests start the provider on these ports.
DEMO_CLIENT_ID = "ai4os-docs-demo"
# One asset cache for every test build: the bytecode compile (several seconds) runs once per
# machine, as it does for a maintainer, while each build still gets an empty output folder.
TEST_CACHE = REPO / ".cache" / "test-builds"


def sphinx_build(
    srcdir: Path, outdir: Path, *, builder: str = "html", env: dict[str, str] | None = None,
    extra: tuple[str, ...] = (), cache: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """The strict build, as maintainers run it, in a subprocess (its own Sphinx process)."""
    overrides = [
        "-D", f"access_checker_node_modules={NODE_MODULES}",
        "-D", f"access_checker_cache_dir={cache or TEST_CACHE}",
    ]
    return subprocess.run(
        [sys.executable, "-m", "sphinx", "-n", "-W", "--keep-going", "-b", builder, *overrides, *extra,
         str(srcdir), str(outdir)],
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


@pytest.fixture(scope="session")
def built_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real site, built strictly once per session into a temporary folder."""
    out = tmp_path_factory.mktemp("site") / "html"
    result = sphinx_build(REPO, out)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (out.parent / "build.log").write_text(result.stdout + result.stderr)
    return out
