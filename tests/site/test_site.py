"""The real documentation site, built strictly as maintainers build it."""

from __future__ import annotations

import json
import os
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.conftest import REPO, sphinx_build
from tests.site.conftest import Clone

# The pages the agreed text of the access page links; kept in the repository, not read from elsewhere.
EXPECTED_LINKS = Path(__file__).parent / "fixtures" / "access-page-links.txt"
ACCESS_PAGE = "reference/user-access-levels"


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = dict(attrs).get("href")
        if tag == "a" and href:
            self.hrefs.append(href)


def _links(path: Path) -> list[str]:
    parser = _Links()
    parser.feed(path.read_text())
    return parser.hrefs


def _pages(site: Path) -> set[str]:
    skip = {"genindex", "search", "404"}  # 404: reached by the host for unknown paths, not by a toctree
    return {p.relative_to(site).with_suffix("").as_posix() for p in site.rglob("*.html")
            if not p.relative_to(site).as_posix().startswith("_")} - skip


def test_strict_build_passes_with_zero_warnings(built_site: Path) -> None:
    log = (built_site.parent / "build.log").read_text()
    assert "WARNING" not in log and "ERROR" not in log
    assert len(_pages(built_site)) >= 18


def test_a_broken_page_fails_the_strict_build(clone: Clone, tmp_path: Path) -> None:
    # The docs' sources in a clone, one page broken; the strict build starts from the clone's
    # doctrees, so it reads that page only. The page is then put back as it was.
    page = clone.src / "howtos" / "train" / "index.rst"
    text, before = page.read_text(), page.stat()
    page.write_text(text + "\nSee :doc:`/howtos/no-such-page`.\n")
    try:
        result = sphinx_build(clone.src, tmp_path / "out", read_by=clone.out)
    finally:
        page.write_text(text)
        os.utime(page, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert result.returncode != 0
    assert "howtos/train/index.rst" in result.stderr and "no-such-page" in result.stderr


def test_the_access_page_links_every_page_its_agreed_text_links(built_site: Path) -> None:
    lines = EXPECTED_LINKS.read_text().splitlines()
    targets = {line.strip() for line in lines if line.strip() and not line.startswith("#")}
    assert len(targets) >= 9
    linked = {_resolve(ACCESS_PAGE, href) for href in _links(built_site / f"{ACCESS_PAGE}.html")}
    for target in targets:
        assert (built_site / f"{target}.html").is_file(), target
        assert target in linked, f"the access page does not link {target}"


def _resolve(page: str, href: str) -> str:
    """The docname an href of ``page`` points to (relative links only)."""
    target = (Path("/") / Path(page).parent / href.split("#")[0]).resolve()
    return target.relative_to("/").as_posix().removesuffix(".html")


def test_every_page_is_reachable_through_toctrees_from_the_index(built_site: Path) -> None:
    seen, todo = {"index"}, ["index"]
    while todo:
        page = todo.pop()
        html = (built_site / f"{page}.html").read_text()
        for block in re.findall(r'<div class="toctree-wrapper compound">(.*?)</div>', html, re.S):
            parser = _Links()
            parser.feed(block)
            for href in parser.hrefs:
                resolved = _resolve(page, href)
                if resolved not in seen:
                    seen.add(resolved)
                    todo.append(resolved)
    assert _pages(built_site) <= seen


def test_access_page_says_what_the_seed_says(built_site: Path) -> None:
    html = (built_site / f"{ACCESS_PAGE}.html").read_text()
    for heading in ("Basic access level", "Full access level", "Upgrading your access level",
                    "Option 1. Join a supported project", "Option 2. Make a special requests"):
        assert f">{heading}<" in html, heading
    basic = html.split("access-features-basic")[1].split("</ul>")[0]
    full = html.split("access-features-full")[1].split("</ul>")[0]
    for page in ("howtos/try/index", "howtos/deploy/cloud", "llm"):
        assert f"{page}.html" in basic
    for page in ("howtos/develop/index", "howtos/train/index", "howtos/deploy/index", "storage"):
        assert f"{page}.html" in full
    assert html.count('class="access-projects') == 2
    for homepage in ("https://ai4eosc.eu/", "https://imagine-ai.eu/", "https://ai4life.eurobioimaging.eu/"):
        assert html.count(f'href="{homepage}"') == 2, homepage
    for sentence in ("granted to any", "usually reserved to members", "Open calls for external usecases",
                     "carefully study your request"):
        assert sentence in html


@pytest.mark.parametrize("page", ["howtos/try/index", "howtos/deploy/cloud", "reference/llm", "howtos/develop/index",
                                  "howtos/train/index", "howtos/deploy/index", "reference/storage"])
def test_every_feature_page_opens_with_a_requirements_box(built_site: Path, page: str) -> None:
    html = (built_site / f"{page}.html").read_text()
    body = html.split('itemprop="articleBody">')[1]
    first_block = re.search(r"<(div|p|section)[^>]*>", body.split("</h1>", 1)[1])
    assert first_block and "access-requirement" in first_block[0]


def test_no_placeholder_text_in_any_page() -> None:
    for path in [*REPO.glob("*.rst"), *[p for d in ("getting-started", "reference", "howtos", "help")
                                         for p in (REPO / d).rglob("*") if p.suffix in (".rst", ".md")]]:
        text = path.read_text()
        assert not re.search(r"\b(TODO|TBD|lorem ipsum|coming soon|FIXME)\b", text, re.I), path


def test_search_finds_an_address_only_on_the_pages_that_show_it(built_site: Path) -> None:
    # Every page carries the address list as substitution definitions; search must not see them.
    index = json.loads(re.search(r"Search\.setIndex\((.*)\)", (built_site / "searchindex.js").read_text(), re.S)[1])
    docnames = index["docnames"]
    for word in ("vllm", "aai", "share"):
        found = index["terms"][word]
        docs = {docnames[i] for i in ([found] if isinstance(found, int) else found)}
        assert 0 < len(docs) < len(docnames) // 2, word
        for doc in docs:
            assert word in (built_site / f"{doc}.html").read_text().lower(), (word, doc)
