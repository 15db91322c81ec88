"""The code stays easy to change: rules a maintainer would otherwise check by reading.

A module short enough to read in one sitting, each request field's name spelled where the
field is declared (the table) and where its typed value lives (the record) rather than in
every layer, CPython's public API only, and comments that cite what a reader of this
repository has (the maintainers' pages), never a document outside it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from access_checker.request.fields import FIELDS, Field

REPO = Path(__file__).resolve().parents[2]
CORE = REPO / "checker" / "core" / "access_checker"
# Product code: everything the site, the checker and the local stack run (tests/ and bench/
# measure it, and are held to no length).
PRODUCT = (REPO / "checker", REPO / "dev", REPO / "conf.py")
SKIP = {"node_modules", "__pycache__", "_build", ".venv"}
LIMITS = {".py": 400, ".mjs": 350, ".js": 350}


def product_files(suffixes: tuple[str, ...]) -> Iterator[Path]:
    for root in PRODUCT:
        paths = [root] if root.is_file() else root.rglob("*")
        for path in paths:
            if path.suffix in suffixes and path.is_file() and not SKIP.intersection(path.relative_to(REPO).parts):
                yield path


def test_no_module_is_too_long_to_read() -> None:
    files = list(product_files(tuple(LIMITS)))
    assert len(files) > 40, "the walk found too few modules: has the layout changed?"
    lines = {path: len(path.read_text(encoding="utf-8").splitlines()) for path in files}
    too_long = {str(p.relative_to(REPO)): n for p, n in lines.items() if n > LIMITS[p.suffix]}
    assert not too_long, f"split these (Python ≤ 400 lines, JavaScript ≤ 350): {too_long}"


def _names(fields: tuple[Field, ...]) -> Iterator[str]:
    """Every value's name; a group's ("account", "resources") is its record's, a word of the code."""
    for field in fields:
        if field.kind != "object":
            yield field.name
        yield from _names(field.children)


def test_a_request_fields_name_is_spelled_in_at_most_three_lines() -> None:
    """The request lives in request/ and web/. Names that are also ordinary words there
    ("name", "email", "kind", "projects", …) cannot be counted apart from those words; every
    other name is counted."""
    sources = {p: p.read_text(encoding="utf-8").splitlines() for p in [*CORE.joinpath("request").rglob("*.py"),
                                                                         *CORE.joinpath("web").rglob("*.py")]}
    rest = "\n".join(p.read_text(encoding="utf-8") for p in CORE.rglob("*.py") if p not in sources)
    counted = {}
    for name in set(_names(FIELDS)):
        word = re.compile(rf"\b{re.escape(name)}\b")
        if "_" not in name and word.search(rest):
            continue  # an ordinary word of the package (the policy's, the assessment's)
        counted[name] = [f"{p.relative_to(CORE)}:{i + 1}" for p, lines in sources.items()
                         for i, line in enumerate(lines) if word.search(line)]
    assert {"heard_from", "planned_use", "accepted_aup", "storage_gb", "self_reported"} <= counted.keys()
    spelled_often = {name: where for name, where in counted.items() if len(where) > 3}
    assert not spelled_often, f"derive these from the field table instead: {spelled_often}"


def test_no_private_cpython_api() -> None:
    private = re.compile(r"\b(?:importlib\._|_bootstrap(?:_external)?\b|_code_to_hash_pyc|sys\._getframe)")
    found = [f"{p.relative_to(REPO)}:{i + 1}" for p in product_files((".py", ".mjs", ".js"))
             for i, line in enumerate(p.read_text(encoding="utf-8").splitlines()) if private.search(line)]
    assert not found, f"CPython's private API: {found}"


def test_comments_cite_only_this_repository() -> None:
    """The design notes the first rounds were written from are not in the repository: a
    comment that cites them sends a reader nowhere."""
    outside = re.compile(r"design\.md|access-model\.md|\.\./shared\b|contract \d")
    texts = [*product_files((".py", ".mjs", ".js", ".rst", ".md", ".toml", ".cfg")),
             *(p for p in REPO.rglob("*.rst") if not SKIP.intersection(p.relative_to(REPO).parts)),
             *REPO.glob("*.md"), REPO / "Makefile"]
    assert len(texts) > 60
    found = [f"{p.relative_to(REPO)}:{i + 1}" for p in texts
             for i, line in enumerate(p.read_text(encoding="utf-8").splitlines()) if outside.search(line)]
    assert not found, f"cite a page of this repository instead: {found}"
