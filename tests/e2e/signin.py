"""Helpers for browser tests that sign in through the demo provider's real form."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from playwright.sync_api import Page

from access_checker import default_policy, evaluate
from access_checker.assessment import Assessment
from tests.conftest import REPO
from tests.e2e.conftest import Site, wait_ready

ACCESS = "reference/user-access-levels"
ACCOUNTS = json.loads((REPO / "dev" / "idp" / "accounts.json").read_text())


def account_claims(login: str) -> dict[str, Any]:
    """What the provider holds for a demo account (the same data the provider serves)."""
    return {k: v for k, v in ACCOUNTS[login].items() if not k.startswith("_")}


def expected(login: str) -> Assessment:
    """The assessment the Python core gives for the account's claims: no hard-coded answers."""
    return evaluate(account_claims(login), default_policy())


def open_provider_form(page: Page, site: Site) -> None:
    page.goto(site.page_url(ACCESS))
    page.click("[data-action=sign-in]")
    page.wait_for_selector("input[name=login]", timeout=30_000)


def submit_login(page: Page, login: str) -> None:
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", "any password works")
    page.click("button[type=submit]")


def sign_in(page: Page, site: Site, login: str) -> str:
    open_provider_form(page, site)
    submit_login(page, login)
    page.wait_for_url(f"{site.page_url(ACCESS)}*", timeout=30_000)
    return wait_ready(page)


def set_faults(site: Site, faults: dict[str, object] | None) -> None:
    """Switch the demo provider's test faults (only on with DEMO_IDP_TEST_CONTROLS)."""
    method = "PUT" if faults else "DELETE"
    body = json.dumps(faults).encode() if faults else None
    request = urllib.request.Request(f"{site.stack.idp_url}/__test__/faults", data=body, method=method,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


def storage_dump(page: Page) -> str:
    """Everything the site's origin keeps in the browser: local and session storage, cookies."""
    return str(page.evaluate("""() => JSON.stringify({
        local: Object.entries(localStorage), session: Object.entries(sessionStorage), cookie: document.cookie })"""))




def sign_out(page: Page, site: Site, *, discard_draft: bool = False) -> None:
    """Sign out through the provider's end-session page and wait until back on the site."""
    page.click("[data-action=sign-out]")
    with page.expect_navigation(url=f"{site.stack.idp_url}/**", timeout=30_000):
        page.click("[data-action=sign-out-discard]" if discard_draft else "[data-action=sign-out-keep]")
    page.wait_for_url(f"{site.page_url(ACCESS)}*", timeout=30_000)
    page.wait_for_load_state()
