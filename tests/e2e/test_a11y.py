"""Accessibility of the widget in each of its states: axe-core, the keyboard, and announcements.

axe-core (``node_modules/axe-core/axe.min.js``) is injected through the test driver
(``page.evaluate`` runs over the DevTools protocol, which the page's Content-Security-Policy does
not govern; the policy stays on, as the CSP watch of every test checks) and runs on the widget's
root. Every state must have no ``serious`` or ``critical`` violation; the counts per state are
printed at the end of the module.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, Route

from tests.e2e.conftest import Site, Watch, state, wait_ready
from tests.e2e.signin import sign_in
from tests.e2e.widget import ACCESS, axe_run, inline_errors

RESULTS: dict[str, dict[str, list[str]]] = {}
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
    print("\naxe-core violations per widget state (impact: rule [nodes]):")
    for name, found in RESULTS.items():
        counts = {impact: len(rules) for impact, rules in found.items()}
        print(f"  {name}: {counts or 'none'}")
        for impact, rules in found.items():
            for rule in rules:
                print(f"      {impact}: {rule}")


def axe(page: Page, name: str) -> None:
    """Run axe in one state: any serious or critical problem (colour contrast included) fails."""
    found = axe_run(page)
    RESULTS[name] = found
    serious = {k: rules for k, rules in found.items() if k in ("serious", "critical")}
    assert not any(serious.values()), f"{name}: {serious}"


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
    assert page.is_visible("[data-outputs]")
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
    assert page.is_visible("[data-outputs]")
    # Focus moves to the outputs; the download is a keyboard press away.
    assert page.evaluate("document.activeElement.dataset.output") == "helpdesk"
    tab_to(page, "el.dataset.output === 'download'")
    with page.expect_download() as info:
        page.keyboard.press("Space")
    document = json.loads(info.value.path().read_text(encoding="utf-8"))
    assert {k: document[k] for k in ("name", "email", "institution")} == {k: typed[k] for k in ("name", "email", "institution")}
    assert document["projects"] == ["imagine"] and document["features"] == ["train"]
    assert document["accepted_aup"] is True
