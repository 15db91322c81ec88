"""Accessibility of every page and of the widget in each of its states: axe-core, the keyboard,
and announcements (help/maintainers/accessibility.rst).

axe-core runs on the whole page with the WCAG 2.2 AA and best-practice rules (tests/e2e/axe.py);
any violation fails. Every page of the built site is checked in one browser context, visited in
sequence: at 1280 CSS pixels with every rule, then at 320 (400 % zoom) with the rules that depend
on the layout; the narrow layout's own parts (the top bar, the open menu, the skip link) and
the search results once. What each run found, and how long the pages took, is printed at the
end of the module.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, Route, expect

from tests.e2e import axe as axe_core
from tests.e2e.conftest import Site, Watch, state, wait_ready
from tests.e2e.signin import sign_in
from tests.e2e.widget import ACCESS, inline_errors, settled

RESULTS: dict[str, list[str]] = {}
TIMES: dict[str, float] = {}
WIDE, NARROW = {"width": 1280, "height": 900}, {"width": 320, "height": 720}
GOOD = {"name": "Marta Ruiz", "email": "marta.ruiz@example.org", "institution": "IFCA",
        "why": "We segment plankton images and need GPUs.", "planned_use": "Train a U-Net on 40k images.",
        "resources.gpus": "1", "resources.storage_gb": "200", "duration_months": "6", "heard_from": "A colleague"}
# What the live region says, in order, as it changes (recorded from the start of the page).
RECORD_STATUS = """
window.__announced = [];
document.addEventListener("DOMContentLoaded", () => {
  const status = document.querySelector(".access-checker__status");
  if (status) new MutationObserver(() => window.__announced.push(status.textContent))
    .observe(status, { childList: true, characterData: true, subtree: true });
});
"""


@pytest.fixture(scope="module", autouse=True)
def report() -> Iterator[None]:
    yield
    print(f"\naxe-core violations (tags {', '.join(axe_core.TAGS)}), per page and widget state:")
    clean = [name for name, found in RESULTS.items() if not found]
    print(f"  none: {len(clean)} runs")
    for name, found in RESULTS.items():
        for line in found:
            print(f"  {name}: {line}")
    for name, seconds in TIMES.items():
        print(f"  time: {name}: {seconds:.1f} s")


def axe(page: Page, name: str, rules: tuple[str, ...] | None = None) -> None:
    """Run axe on the whole page in one state: any violation fails."""
    found = axe_core.violations(page, rules)
    RESULTS[name] = found
    assert not found, f"{name}: {found}"


def site_pages(site: Site) -> list[str]:
    """Every HTML page of the build, as URL paths (the theme's and the benchmarks' files left out)."""
    return sorted(p.relative_to(site.root).as_posix() for p in site.root.rglob("*.html")
                  if p.relative_to(site.root).parts[0] not in ("_static", "_bench"))


def test_every_page_passes_axe_wide_and_narrow(page: Page, site: Site, watch: Watch) -> None:
    watch.expect_error("the server responded with a status of 404")  # the 404 page, at depth
    pages = [p for p in site_pages(site) if p != "404.html"] + ["howtos/nothing/here.html"]
    assert len(pages) >= 20, pages
    failures: dict[str, list[str]] = {}
    started = time.monotonic()
    for path in pages:
        page.set_viewport_size(WIDE)
        page.goto(f"{site.url}/{path}", wait_until="load")
        found = axe_core.violations(page)
        page.set_viewport_size(NARROW)
        found += [f"at 320 px: {line}" for line in axe_core.violations(page, axe_core.LAYOUT_RULES)]
        RESULTS[path] = found
        if found:
            failures[path] = found
    TIMES[f"{len(pages)} pages, wide and narrow"] = time.monotonic() - started
    assert not failures, failures


def test_the_narrow_layout_the_skip_link_and_search_results_pass_axe(page: Page, site: Site) -> None:
    page.set_viewport_size(NARROW)
    page.goto(site.page_url("howtos/train/index"))
    axe(page, "narrow: top bar")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    axe(page, "narrow: skip link focused")
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main-content"

    menu = page.locator('.wy-nav-top button[data-toggle="wy-nav-top"]')
    assert menu.get_attribute("aria-expanded") == "false"
    assert not page.locator(".wy-nav-side a").first.is_visible()  # closed: out of the keyboard's way
    menu.focus()
    page.keyboard.press("Enter")
    page.wait_for_function("document.querySelector('.wy-nav-top button').getAttribute('aria-expanded') === 'true'")
    assert page.locator(".wy-nav-side a").first.is_visible()
    axe(page, "narrow: menu open")

    page.set_viewport_size(WIDE)
    page.goto(f"{site.url}/search.html?q=storage")
    page.wait_for_selector("#search-results li a", timeout=30_000)
    axe(page, "search results")


def announced(page: Page) -> list[str]:
    return list(page.evaluate("window.__announced"))


def test_each_state_of_the_widget_passes_axe(page: Page, site: Site) -> None:
    page.add_init_script(RECORD_STATUS)
    held: list[Route] = []
    holding = [True]

    def hold(route: Route) -> None:  # holds the boot in "loading" while axe runs, then lets it go
        if holding[0]:
            held.append(route)
        else:
            route.continue_()

    page.route("**/*.whl", hold)
    page.goto(site.page_url(ACCESS))
    assert state(page) == "idle"
    axe(page, "idle")

    page.evaluate("void window.accessChecker.start()")
    page.wait_for_function("() => document.querySelector('[data-access-checker]').dataset.state === 'loading'")
    page.wait_for_function("() => document.querySelector('.access-checker__status').textContent.includes('MB')")
    axe(page, "loading")
    assert state(page) == "loading" and held, "the boot was not held in its loading state"
    holding[0] = False
    for route in held:
        route.continue_()
    assert wait_ready(page) == "ready"
    axe(page, "ready, not signed in")

    page.click(".access-checker__form button[type=submit]")
    errors = inline_errors(page)
    assert errors
    axe(page, "form with errors")
    # Focus goes to the first field in error; each message is tied to its field.
    settled(page)
    assert page.evaluate("document.activeElement.name") == "name"
    untied = page.evaluate("""() => [...document.querySelectorAll('[data-error-for]')].filter(el => el.textContent)
      .filter(el => {
        const control = document.querySelector(`.access-checker__form [name="${el.dataset.errorFor}"]`);
        const owner = control.closest('fieldset') || control;
        return !(owner.getAttribute('aria-describedby') || '').split(' ').includes(el.id)
          || control.getAttribute('aria-invalid') !== 'true';
      }).map(el => el.dataset.errorFor)""")
    assert not untied, untied

    for name, value in GOOD.items():
        page.fill(f'.access-checker__form [name="{name}"]', value)
    page.check('[name="projects"][value="imagine"]')
    page.check('[name="features"][value="train"]')
    page.check('[name="accepted_aup"]')
    page.click(".access-checker__form button[type=submit]")
    expect(page.locator("[data-outputs]")).to_be_visible()
    axe(page, "outputs shown")

    # The live region told each step as it happened.
    said = announced(page)
    steps = ["Downloading the checker", "Starting Python", "The checker is ready.",
             f"{len(errors)} fields need attention: Enter your name.", "Your request is ready to send."]
    positions = [next((i for i, text in enumerate(said) if step in text), -1) for step in steps]
    assert -1 not in positions and positions == sorted(positions), said


def test_the_error_state_passes_axe(page: Page, site: Site, watch: Watch) -> None:
    watch.expect_error("the server responded with a status of 404")
    page.add_init_script(RECORD_STATUS)
    page.route("**/pyodide.asm.wasm", lambda route: route.fulfill(status=404, body="gone"))
    page.goto(site.page_url(ACCESS))
    page.click("[data-action=start]")
    assert wait_ready(page) == "error"
    assert state(page, "error") == "runtime_missing"
    axe(page, "error")
    assert page.get_attribute(".access-checker__message", "role") == "alert"
    assert announced(page)[-1] == "The access checker could not start."


def test_signed_in_passes_axe(page: Page, site: Site) -> None:
    assert sign_in(page, site, "basic-user") == "ready"
    axe(page, "ready, signed in")
    page.click("[data-action=sign-out]")
    # The choice that appears takes the focus.
    assert page.evaluate("document.activeElement.dataset.action") == "sign-out-keep"
    axe(page, "signing out (draft choice)")


# ---------------------------------------------------------------------------------------------
# The keyboard only


def tab_to(page: Page, test: str, *, back: bool = False, limit: int = 400) -> None:
    """Press Tab (Shift+Tab) until ``test`` (a JS expression on ``el``) holds for the focus."""
    for _ in range(limit):
        page.keyboard.press("Shift+Tab" if back else "Tab")
        if page.evaluate(f"(() => {{ const el = document.activeElement; return !!el && ({test}); }})()"):
            return
    raise AssertionError(f"the keyboard never reached {test}")


def field(name: str, value: str | None = None) -> str:
    test = f"el.name === {json.dumps(name)}"
    return test if value is None else f"{test} && el.value === {json.dumps(value)}"


def test_the_request_can_be_made_with_the_keyboard_only(page: Page, site: Site) -> None:
    page.goto(site.page_url(ACCESS))
    tab_to(page, "el.dataset.action === 'start'")
    page.keyboard.press("Space")
    assert wait_ready(page) == "ready"

    # Submitting too early: focus lands on the first field in error.
    tab_to(page, "el.type === 'submit'")
    page.keyboard.press("Space")
    settled(page)
    assert page.evaluate("document.activeElement.name") == "name"
    assert inline_errors(page)["name"] == "Enter your name."

    typed: dict[str, Any] = {}
    for name in ("name", "email", "institution"):
        if name != "name":  # the focus is already on it
            tab_to(page, field(name))
        page.keyboard.type(GOOD[name])
        typed[name] = GOOD[name]
    # Back to fix the e-mail address with Shift+Tab (focusing a field selects its text).
    tab_to(page, field("email"), back=True)
    page.keyboard.type("marta@example.org")
    typed["email"] = "marta@example.org"
    for name, value in (("projects", "imagine"), ("features", "train")):
        tab_to(page, field(name, value))
        page.keyboard.press("Space")
    for name in ("why", "planned_use", "resources.gpus", "resources.storage_gb", "duration_months", "heard_from"):
        tab_to(page, field(name))
        page.keyboard.type(GOOD[name])
        typed[name] = GOOD[name]
    tab_to(page, field("accepted_aup"))
    page.keyboard.press("Space")
    tab_to(page, "el.type === 'submit'")
    page.keyboard.press("Space")

    assert not inline_errors(page), inline_errors(page)
    expect(page.locator("[data-outputs]")).to_be_visible()
    # Focus moves to the outputs; the download is a keyboard press away.
    assert page.evaluate("document.activeElement.dataset.output") == "helpdesk"
    tab_to(page, "el.dataset.output === 'download'")
    with page.expect_download() as info:
        page.keyboard.press("Space")
    document = json.loads(info.value.path().read_text(encoding="utf-8"))
    assert {k: document[k] for k in ("name", "email", "institution")} == {k: typed[k] for k in ("name", "email", "institution")}
    assert document["projects"] == ["imagine"] and document["features"] == ["train"]
    assert document["accepted_aup"] is True
