"""Site search works in the browser under the site's Content-Security-Policy."""

from __future__ import annotations

from playwright.sync_api import Page

from tests.e2e.conftest import Site


def test_searching_a_word_from_a_page_finds_that_page(page: Page, site: Site) -> None:
    page.goto(f"{site.url}/search.html?q=nvidia-smi")
    page.wait_for_selector("#search-results li a", timeout=30_000)
    hits = [a.get_attribute("href") or "" for a in page.query_selector_all("#search-results li a")]
    assert any("howtos/train/index.html" in href for href in hits), hits
