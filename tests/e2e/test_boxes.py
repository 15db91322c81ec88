"""Requirement boxes, personalised from the summary an assessment left in this tab (maintainers, "How the checker works": the session summary).

The summaries are made by the real core (``evaluate(claims, policy).summary(expires)``) from the
demo provider's accounts, so no verdict is written by hand here.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import Page, Route

from access_checker import default_policy, evaluate
from dev.stack import DEFAULT_ACCOUNTS, load_accounts
from tests.e2e.conftest import Site, Watch

KEY = "access-checker:summary"
TRAIN, STORAGE, TRY = "howtos/train/index", "reference/storage", "howtos/try/index"
POLICY = default_policy()
PROJECTS_META = re.compile(r'\s*<meta name="access-checker-projects"[^>]*>')


def summary(login: str, expires_in: int = 3600) -> dict[str, Any]:
    claims = {k: v for k, v in load_accounts(DEFAULT_ACCOUNTS)[login].items() if not k.startswith("_")}
    return evaluate(claims, POLICY).summary(int(time.time()) + expires_in)


def store(page: Page, site: Site, value: dict[str, Any]) -> None:
    """Leave a summary in this tab's sessionStorage, as the widget does after an assessment."""
    if not page.url.startswith(site.url):
        page.goto(site.page_url("index"))
    page.evaluate("([key, value]) => sessionStorage.setItem(key, value)", [KEY, json.dumps(value)])


def stored(page: Page) -> str | None:
    return page.evaluate("(key) => sessionStorage.getItem(key)", KEY)  # type: ignore[no-any-return]


def verdicts(page: Page) -> list[str]:
    return [el.inner_text().strip() for el in page.query_selector_all(".access-requirement .access-verdict")]


def names(ids: list[str]) -> str:
    return ", ".join(POLICY.project(pid).name for pid in ids)


def box_pages(site: Site) -> list[str]:
    return sorted(
        str(path.relative_to(site.root).with_suffix("")) for path in site.root.rglob("*.html")
        if 'class="access-requirement ' in path.read_text(encoding="utf-8")
    )


def no_runtime(watch: Watch) -> list[str]:
    return [url for url in watch.requests if "/runtime-" in url or ".whl" in url or "pyodide" in url]


def test_without_a_summary_the_box_stays_as_built(page: Page, site: Site, watch: Watch) -> None:
    page.goto(site.page_url(TRAIN))
    assert any(url.split("?")[0].endswith("/boxes.mjs") for url in watch.requests), "boxes.mjs is not loaded"
    box = page.locator(".access-requirement")
    assert box.count() == 1
    assert box.get_attribute("data-verdict") is None
    assert page.locator(".access-verdict").count() == 0
    assert box.inner_text().strip().endswith("Check your own level with the access checker.")


def test_a_member_has_access_where_they_are_a_member(page: Page, site: Site) -> None:
    value = summary("imagine-member")
    assert value["features"]["train"] == {"allowed": True, "projects": ["imagine"]}
    store(page, site, value)
    for docname in (TRAIN, STORAGE):
        page.goto(site.page_url(docname))
        assert verdicts(page) == [f"You have access (in {names(['imagine'])})."], docname
        assert page.get_attribute(".access-requirement", "data-verdict") == "allowed"
    page.reload()  # idempotent: still one verdict
    assert verdicts(page) == [f"You have access (in {names(['imagine'])})."]


def test_a_basic_reader_is_told_which_level_and_how_to_upgrade(page: Page, site: Site) -> None:
    value = summary("basic-user")
    assert not value["features"]["storage"]["allowed"]
    store(page, site, value)
    page.goto(site.page_url(TRY))
    assert verdicts(page) == [f"You have access (in {names(value['features']['try']['projects'])})."]

    page.goto(site.page_url(STORAGE))
    assert page.get_attribute(".access-requirement", "data-verdict") == "denied"
    level = POLICY.level(POLICY.feature("storage").level).title
    assert verdicts(page) == [f"You need the {level} for this: see how to upgrade."]
    link = page.locator(".access-verdict a")
    href = link.evaluate("a => a.href")
    assert urlsplit(href).path == "/reference/user-access-levels.html" and href.endswith("#access-upgrade")
    link.click()
    page.wait_for_url(href)
    assert page.locator("#access-upgrade").count() == 1


def test_project_ids_are_shown_when_the_page_has_no_names(page: Page, site: Site) -> None:
    def without_names(route: Route) -> None:
        response = route.fetch()
        route.fulfill(response=response, body=PROJECTS_META.sub("", response.text()))

    page.route(site.page_url(TRAIN), without_names)
    store(page, site, summary("imagine-member"))
    page.goto(site.page_url(TRAIN))
    assert verdicts(page) == ["You have access (in imagine)."]


def test_an_expired_summary_is_ignored_and_removed(page: Page, site: Site) -> None:
    store(page, site, summary("imagine-member", expires_in=-60))
    page.goto(site.page_url(TRAIN))
    assert page.locator(".access-verdict").count() == 0
    assert page.get_attribute(".access-requirement", "data-verdict") is None
    assert stored(page) is None


def test_a_broken_or_foreign_summary_is_ignored(page: Page, site: Site) -> None:
    page.goto(site.page_url("index"))
    for text in ("{not json", json.dumps({**summary("imagine-member"), "version": 2}), "[]"):
        page.evaluate("([key, value]) => sessionStorage.setItem(key, value)", [KEY, text])
        page.goto(site.page_url(TRAIN))
        assert page.locator(".access-verdict").count() == 0, text


def test_a_stale_verdict_goes_when_the_summary_does(page: Page, site: Site) -> None:
    store(page, site, summary("imagine-member"))
    page.goto(site.page_url(TRAIN))
    assert len(verdicts(page)) == 1
    page.goto(site.page_url("index"))
    page.evaluate("(key) => sessionStorage.removeItem(key)", KEY)  # what signing out does
    page.go_back()  # from the back/forward cache where the browser keeps it, or reloaded
    page.wait_for_url(site.page_url(TRAIN))
    assert page.locator(".access-verdict").count() == 0
    assert page.get_attribute(".access-requirement", "data-verdict") is None

    # Headless Chromium may reload instead of restoring from the cache: the restore itself is
    # a "pageshow" event with persisted set, and each one redraws the boxes from scratch.
    restored = "new PageTransitionEvent('pageshow', {persisted: true})"
    store(page, site, summary("imagine-member"))
    for _ in range(2):
        page.evaluate(f"dispatchEvent({restored})")
        assert len(verdicts(page)) == 1
    page.evaluate("(key) => sessionStorage.removeItem(key)", KEY)
    page.evaluate(f"dispatchEvent({restored})")
    assert page.locator(".access-verdict").count() == 0
    assert page.get_attribute(".access-requirement", "data-verdict") is None


def test_every_box_page_is_personalised_without_the_runtime(page: Page, site: Site, watch: Watch) -> None:
    pages = box_pages(site)
    assert {TRAIN, STORAGE, TRY} <= set(pages)
    store(page, site, summary("basic-user"))
    for docname in pages:
        page.goto(site.page_url(docname))
        boxes = page.locator(".access-requirement").count()
        assert boxes and len(verdicts(page)) == boxes, docname
    assert not no_runtime(watch)
    assert not [url for url in watch.requests if "widget.mjs" in url or "oauth4webapi" in url]

