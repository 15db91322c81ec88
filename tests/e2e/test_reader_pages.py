"""The reader features in the browser (help/maintainers/accessibility.rst): the 404 page at any
depth, through the site's own server, and what an ordinary page costs a reader on a cold load."""

from __future__ import annotations

from playwright.sync_api import Page, Response

from tests.e2e.conftest import Site, Watch

# Resource Timing on a cold load: every transfer (compressed, headers included), by kind.
TRANSFERS = """async () => {
  await document.fonts.ready;
  await new Promise(resolve => setTimeout(resolve, 300));
  const nav = performance.getEntriesByType('navigation')[0];
  return [[nav.name, nav.transferSize],
          ...performance.getEntriesByType('resource').map(e => [e.name, e.transferSize])];
}"""
BUDGET = 200_000


def test_the_404_page_works_at_any_depth(page: Page, site: Site, watch: Watch) -> None:
    watch.expect_error("the server responded with a status of 404")
    failed: list[str] = []

    def check(response: Response) -> None:
        if response.status >= 400 and response.request.resource_type != "document":
            failed.append(f"{response.status} {response.url}")

    page.on("response", check)
    response = page.goto(f"{site.url}/howtos/nothing/here.html", wait_until="load")
    assert response is not None and response.status == 404
    assert page.locator("h1").inner_text() == "Page not found"
    loaded = page.evaluate("document.fonts.ready.then(fs => [...fs].filter(f => f.status === 'loaded').map(f => f.family))")
    assert {"Lato", "Roboto Slab", "FontAwesome"} <= set(loaded), loaded
    assert page.evaluate("getComputedStyle(document.querySelector('.wy-nav-side')).backgroundColor") == "rgb(52, 49, 49)"
    assert not failed, failed
    page.get_by_role("link", name="home page").click()
    page.wait_for_url(f"{site.url}/index.html")


def test_an_ordinary_page_transfers_at_most_200_kb_cold(page: Page, site: Site) -> None:
    page.goto(site.page_url("howtos/train/index"), wait_until="load")
    transfers = [(url.removeprefix(site.url), size) for url, size in page.evaluate(TRANSFERS)]
    total = sum(size for _, size in transfers)
    fonts = sum(size for url, size in transfers if url.split("?")[0].endswith((".woff2", ".woff", ".ttf")))
    print(f"\nhowtos/train/index.html, cold: {total / 1000:.1f} KB in {len(transfers)} transfers, "
          f"web fonts {fonts / 1000:.1f} KB")
    assert all(size > 0 for _, size in transfers), transfers  # nothing came from a cache
    # The theme's own font files (its @font-face rules) are never needed for English text.
    assert not [url for url, _ in transfers if "/_static/css/fonts/" in url]
    assert total <= BUDGET, sorted(transfers, key=lambda t: -t[1])
