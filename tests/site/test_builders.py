"""Every standard builder, strict, and parallel builds that match serial ones byte for byte.

Outside html and dirhtml the widget cannot run: readers of those formats get its fallback
(where to check their level, how to reach support) and the requirement boxes as plain text.

The other builders start from the session build's doctrees, as ``make html latexpdf`` and Read
the Docs do (one doctrees folder for every format): each writes its format without reading the
sources again. Two kinds of build read them themselves: one with another ``html_baseurl`` (the
fallback's address is written as the page is read), and text, whose doctrees the man page then
shares (Sphinx leaves quotes straight for text and man as it reads: ``smartquotes_excludes``).
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO, sphinx_build
from tests.site.conftest import Clone

ACCESS_PAGE = "reference/user-access-levels"
FALLBACK = "The interactive access checker runs in the web version of this page"
BOX = "This needs the Full access level. Check your own level with the access checker."
ONLINE = "https://docs.example.org/en/latest/"
_CSP = re.compile(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)">')


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_a_parallel_build_writes_the_same_site_byte_for_byte(built_site: Path, tmp_path: Path) -> None:
    # Page writing runs in forked processes under -j: whatever the extension adds to pages
    # (the security policy, its script hashes) must reach every page all the same.
    out = tmp_path / "html"
    result = sphinx_build(REPO, out, extra=("-j", "2"))
    assert result.returncode == 0, result.stderr[-3000:]
    serial, parallel = _files(built_site), _files(out)
    assert sorted(serial) == sorted(parallel)
    differ = [name for name in serial if serial[name] != parallel[name]]
    assert differ == []
    pages = [name for name in parallel if name.endswith(".html") and not name.startswith("_static/")]
    assert len(pages) >= 18
    for name in pages:
        assert '<meta http-equiv="Content-Security-Policy"' in parallel[name].decode(), name


def test_an_incremental_build_leaves_one_policy_on_every_page(clone: Clone) -> None:
    # A maintainer's rebuild in their clone, after one page changed.
    src, out = clone.src, clone.out
    train = out / "howtos" / "train" / "index.html"
    written = train.stat().st_mtime_ns
    storage = src / "reference" / "storage.rst"
    storage.write_text(storage.read_text() + "\nOne more paragraph.\n")
    result = clone.plain_build()
    assert result.returncode == 0, result.stderr[-3000:]
    assert "One more paragraph." in (out / "reference" / "storage.html").read_text()
    assert train.stat().st_mtime_ns == written  # neither Sphinx nor the extension rewrote it
    policies = {_CSP.findall(p.read_text())[0] for p in out.rglob("*.html") if "_static" not in p.parts}
    assert len(policies) == 1


def _build(builder: str, tmp_path: Path, env: dict[str, str] | None = None, read_by: Path | None = None) -> Path:
    out = tmp_path / builder
    result = sphinx_build(REPO, out, builder=builder, env=env, read_by=read_by)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert "WARNING" not in result.stderr and "ERROR" not in result.stderr, result.stderr[-3000:]
    return out


def test_dirhtml_gives_every_page_a_folder_and_the_widget_its_urls(built_site: Path, tmp_path: Path) -> None:
    out = _build("dirhtml", tmp_path, read_by=built_site)
    html = (out / ACCESS_PAGE / "index.html").read_text()
    assert "data-access-checker" in html
    assert 'data-redirect-page="reference/user-access-levels/"' in html
    assert 'data-page-pattern="PAGE/"' in html
    train = (out / "howtos" / "train" / "index.html").read_text()
    assert 'href="../../reference/user-access-levels/#authentication-full"' in train
    assert '<meta name="access-checker-upgrade" content="../../reference/user-access-levels/#access-upgrade">' in train
    assert (out / "_access_checker" / "oidc.json").read_text().count("reference/user-access-levels/") == 2


def test_singlehtml_gets_the_fallback_and_no_runtime(built_site: Path, tmp_path: Path) -> None:
    html = (_build("singlehtml", tmp_path, read_by=built_site) / "index.html").read_text()
    assert FALLBACK in html
    assert '<section class="access-checker"' not in html
    assert not re.search(r'<script[^>]+src="[^"]*access-checker/', html)
    assert "access-requirement" in html


@pytest.fixture(scope="module")
def plain_text(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The text build of a site without an address."""
    return _build("text", tmp_path_factory.mktemp("text"), env={"READTHEDOCS_CANONICAL_URL": ""})


@pytest.mark.parametrize("online", ["", ONLINE], ids=["local", "with-base-url"])
def test_text_readers_get_the_fallback_the_boxes_and_where_to_check_online(
    request: pytest.FixtureRequest, tmp_path: Path, online: str,
) -> None:
    out = _build("text", tmp_path, env={"READTHEDOCS_CANONICAL_URL": online}) if online else request.getfixturevalue("plain_text")
    page = " ".join((out / f"{ACCESS_PAGE}.txt").read_text().split())
    assert FALLBACK in page
    assert "helpdesk: https://helpdesk.cloud.ai4eosc.eu" in page
    assert (f"{ONLINE}{ACCESS_PAGE}.html" in page) == bool(online)
    train = " ".join((out / "howtos" / "train" / "index.txt").read_text().split())
    assert f"Requirements: {BOX}" in train


def test_man_page_holds_the_fallback_and_the_boxes(plain_text: Path, tmp_path: Path) -> None:
    pages = list(_build("man", tmp_path, read_by=plain_text).glob("*.1"))
    assert len(pages) == 1
    text = pages[0].read_text()
    assert "interactive access checker runs in the web version" in text
    assert "Requirements" in text


def test_latex_holds_the_fallback_and_the_boxes(built_site: Path, tmp_path: Path) -> None:
    tex = next(_build("latex", tmp_path, read_by=built_site).glob("*.tex")).read_text()
    assert FALLBACK in tex
    assert "This needs the" in tex and "access checker" in tex


def test_epub_packs_every_page_with_the_fallback(built_site: Path, tmp_path: Path) -> None:
    books = list(_build("epub", tmp_path, read_by=built_site).glob("*.epub"))
    assert len(books) == 1
    with zipfile.ZipFile(books[0]) as book:
        names = book.namelist()
        assert f"{ACCESS_PAGE}.xhtml" in names and "howtos/train/index.xhtml" in names
        access = book.read(f"{ACCESS_PAGE}.xhtml").decode()
    assert FALLBACK in access
    assert "pyodide" not in " ".join(names).lower()
