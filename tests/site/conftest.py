"""A small generated Sphinx project that uses every directive and role of the extension."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sphinx.testing.util import SphinxTestApp

from access_checker.policy import Policy, load_policy
from tests.conftest import NODE_MODULES, REPO, TEST_CACHE, copy_site

DEFAULT_POLICY = REPO / "checker/core/access_checker/policies/ai4os.toml"


def write_project(root: Path, policy_file: Path = DEFAULT_POLICY, extra_conf: str = "") -> Policy:
    """One page per policy feature (each opening with its box), the levels page, support."""
    policy = load_policy(policy_file)
    root.mkdir(parents=True, exist_ok=True)
    (root / "conf.py").write_text(
        'extensions = ["sphinx_access_checker"]\n'
        "nitpicky = True\n"
        f"access_checker_policy = {str(policy_file)!r}\n"
        f"access_checker_node_modules = {str(NODE_MODULES)!r}\n"
        f"access_checker_cache_dir = {str(TEST_CACHE)!r}\n" + extra_conf
    )
    pages = sorted({f.page for f in policy.features} | {policy.page, policy.support.page})
    (root / "index.rst").write_text("Test site\n=========\n\n.. toctree::\n\n" + "".join(f"   {p}\n" for p in pages))
    for feature in policy.features:
        _page(root, feature.page, f"{feature.title}\n{'=' * len(feature.title)}\n\n"
              f".. access-requirement:: {feature.id}\n\nSome text about {feature.id}.\n")
    levels = "".join(
        f".. _{level.anchor}:\n\n{level.title}\n{'-' * len(level.title)}\n\n.. access-features:: {level.id}\n\n"
        for level in policy.levels if level.anchor
    )
    _page(root, policy.page, "Access levels\n=============\n\n.. access-checker::\n\n" + levels
          + "Projects\n--------\n\n.. access-projects::\n\nMembers get :access-level:`full`.\n\n"
          + ".. _access-upgrade:\n\nUpgrading\n---------\n\nAsk support.\n")
    _page(root, policy.support.page, "Support\n=======\n\nAsk the helpdesk.\n")
    return policy


def _page(root: Path, docname: str, text: str) -> None:
    path = root / f"{docname}.rst"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


BuildFn = Callable[..., SphinxTestApp]


@pytest.fixture
def make_app(tmp_path: Path) -> Iterator[BuildFn]:
    """Build the generated project with any builder; returns the finished SphinxTestApp."""
    apps: list[SphinxTestApp] = []

    def build(buildername: str = "html", srcdir: Path | None = None, **kwargs: object) -> SphinxTestApp:
        src = srcdir or tmp_path / "src"
        if not (src / "conf.py").exists():
            write_project(src)
        app = SphinxTestApp(buildername, srcdir=src, builddir=tmp_path / "build", **kwargs)  # type: ignore[arg-type]
        apps.append(app)
        app.build()
        return app

    yield build
    for app in apps:
        app.cleanup()


@dataclass
class Clone:
    """A clone of the repository as a maintainer has it, built with the README's plain command."""

    src: Path
    first: subprocess.CompletedProcess[str]  # the first build, from nothing but the seeded cache

    @property
    def out(self) -> Path:
        return self.src / "_build" / "html"

    def plain_build(self) -> subprocess.CompletedProcess[str]:
        """The README's build in the clone again (incremental after the first)."""
        return _plain_build(self.src)


def _plain_build(src: Path) -> subprocess.CompletedProcess[str]:
    """``sphinx-build -b html . _build/html`` in ``src``, as the README runs it."""
    return subprocess.run([sys.executable, "-m", "sphinx", "-q", "-b", "html", ".", "_build/html"],
                          cwd=src, capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture(scope="session")
def clone(built_site: Path, tmp_path_factory: pytest.TempPathFactory) -> Clone:
    """The docs' sources in a folder of their own, after `pip install -r requirements.txt` (which
    `make setup` runs too) and `npm ci`, built once with the plain command. Only the extension's
    cache is seeded (from the session build's, which ``built_site`` has filled), to skip the
    compile. A test that edits a page here builds it again; one that must leave the clone as it
    was puts the page back with its old modification time, so Sphinx does not read it again."""
    src = copy_site(tmp_path_factory.mktemp("clone") / "src")
    (src / "node_modules").symlink_to(NODE_MODULES)
    shutil.copytree(TEST_CACHE, src / ".cache" / "access-checker")
    return Clone(src, _plain_build(src))
