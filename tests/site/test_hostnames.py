"""AI4OS addresses come from one list, ``ai4os_urls`` in conf.py, and nowhere else.

A page that types an AI4OS host the list does not have (a new service, a typo, an address
copied from an old page) fails here, in its source or in the built HTML, so the list stays
the one place where a moved service is fixed.
"""

from __future__ import annotations

import re
import runpy
import tomllib
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.conftest import DOC_SOURCES, REPO

# The domains that belong to AI4OS and the projects that run it. A host is one of these or
# any name under them (dashboard.cloud.ai4eosc.eu, aai.egi.eu, ...).
AI4OS_DOMAINS = ("ai4eosc.eu", "ai4os.eu", "imagine-ai.eu", "ai4life.eurobioimaging.eu", "kmd4eosc.pl", "egi.eu")

_HOST = re.compile(
    # Not inside a longer name, and not after a colon: `access:vo.ai4eosc.eu:ap-u` and the
    # entitlement namespace `urn:mace:egi.eu` are identifiers, not hosts.
    r"(?<![\w.:@-])(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)*(?:"
    + "|".join(re.escape(d) for d in AI4OS_DOMAINS)
    + r")(?![\w-]|\.[a-z0-9])",
    re.IGNORECASE,
)
# Virtual organisation ids look like hosts (vo.ai4eosc.eu) but name groups; the policy of
# record lists them.
POLICY = REPO / "checker/core/access_checker/policies/ai4os.toml"


def listed_hosts() -> set[str]:
    urls = runpy.run_path(str(REPO / "conf.py"))["ai4os_urls"]
    return {urlsplit(url).hostname or "" for url in urls.values()}


def vo_ids() -> set[str]:
    policy = tomllib.loads(POLICY.read_text())
    return {vo.lower() for project in policy["projects"] for vo in project["vos"]}


def hosts_in(text: str) -> set[str]:
    return {match.lower() for match in _HOST.findall(text)} - vo_ids()


def page_sources() -> Iterator[Path]:
    for name in DOC_SOURCES:
        path = REPO / name
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.suffix in (".rst", ".md"))
        elif path.suffix in (".rst", ".md"):
            yield path


def test_the_list_holds_https_addresses_on_ai4os_domains() -> None:
    urls = runpy.run_path(str(REPO / "conf.py"))["ai4os_urls"]
    assert len(urls) >= 20
    for name, url in urls.items():
        parts = urlsplit(url)
        assert parts.scheme == "https", name
        assert hosts_in(url) == {parts.hostname}, f"{name}: {url} is not on an AI4OS domain"


def test_the_scanner_finds_hosts_and_passes_over_identifiers() -> None:
    text = (
        "See https://dashboard.cloud.ai4eosc.eu/x, im.egi.eu and <https://Status.AI4EOSC.eu>; "
        "enrol in vo.imagine-ai.eu; the role access:vo.ai4eosc.eu:ap-u; urn:mace:egi.eu:group:vo.ai4life.eu; "
        "mail someone@listas.csic.es; not-ai4eosc.eu.example.org is not ours."
    )
    assert hosts_in(text) == {"dashboard.cloud.ai4eosc.eu", "im.egi.eu", "status.ai4eosc.eu"}


@pytest.mark.parametrize("source", list(page_sources()), ids=lambda p: p.relative_to(REPO).as_posix())
def test_page_sources_name_only_listed_hosts(source: Path) -> None:
    unlisted = hosts_in(source.read_text()) - listed_hosts()
    assert not unlisted, f"{sorted(unlisted)} not in ai4os_urls (conf.py); add them there and use |name|"


def test_the_built_html_names_only_listed_hosts(built_site: Path) -> None:
    allowed = listed_hosts()
    unlisted = {
        page.relative_to(built_site).as_posix(): sorted(hosts_in(page.read_text()) - allowed)
        for page in built_site.rglob("*.html")
    }
    assert not {page: hosts for page, hosts in unlisted.items() if hosts}
