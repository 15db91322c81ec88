"""Sign-in end to end: the real demo provider, its real form, Chromium, Pyodide."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, Response

from tests.e2e.conftest import Site, Watch, state, wait_ready
from tests.e2e.signin import (
    ACCESS,
    account_claims,
    expected,
    open_provider_form,
    set_faults,
    sign_in,
    sign_out,
    storage_dump,
    submit_login,
)

DEFAULT_ACCOUNTS = ["basic-user", "edugain-user", "ai4eosc-member", "developer", "imagine-member"]


@pytest.fixture(autouse=True)
def no_faults(site: Site) -> Iterator[None]:
    set_faults(site, None)
    yield
    set_faults(site, None)


@pytest.mark.parametrize("login", [*DEFAULT_ACCOUNTS, "multi-project", "legacy-roles"])
def test_each_account_sees_its_levels_and_evidence(page: Page, site: Site, login: str) -> None:
    assert sign_in(page, site, login) == "ready"
    want = expected(login)
    assert state(page, "signin") == "signed-in"
    assert state(page, "level") == want.level
    got = page.evaluate("window.accessChecker.assessment")
    assert got["projects"] == want.projects
    assert got["level_projects"] == list(want.level_projects)
    counted = {e.value for e in want.evidence if e.level != "anonymous" and e.source != "sub"}
    evidence = page.inner_text("[data-list=evidence]") if counted else ""
    for value in counted:
        assert value in evidence, value
    # The address bar no longer carries the code or the state.
    assert "code=" not in page.url and "state=" not in page.url
    claims = account_claims(login)
    if want.options:
        # Prefilled from the claims; the account context is shown read-only.
        assert page.input_value('[name="name"]') == claims["name"]
        assert page.input_value('[name="email"]') == claims["email"]
        account = page.inner_text("[data-account=signed-in]")
        assert claims["sub"] in account
        assert not page.query_selector("[data-account=signed-in] input")


def test_egi_entitlements_come_from_userinfo_only(page: Page, site: Site) -> None:
    """imagine-member has no realm roles: full access in iMagine can only come from UserInfo."""
    assert sign_in(page, site, "imagine-member") == "ready"
    assert page.evaluate("window.accessChecker.assessment.projects.imagine") == "full"
    assert "eduperson_entitlement[0]" in page.inner_text("[data-list=evidence]")


def test_no_token_is_kept_in_storage_or_cookies(page: Page, site: Site) -> None:
    tokens: list[str] = []

    def capture(response: Response) -> None:
        if response.url.endswith("/token") and response.ok:
            body = response.json()
            tokens.extend(str(body[k]) for k in ("access_token", "id_token") if k in body)

    page.on("response", capture)
    assert sign_in(page, site, "ai4eosc-member") == "ready"
    assert len(tokens) == 2
    kept = storage_dump(page) + json.dumps(page.context.cookies(site.url))
    for token in tokens:
        assert token not in kept
    # The claims and the token-free summary are kept for this tab (maintainers, "How the checker works").
    summary = page.evaluate("JSON.parse(sessionStorage.getItem('access-checker:summary'))")
    assert summary["level"] == "full" and summary["features"]["train"]["projects"] == ["ai4eosc"]


def test_returning_later_in_the_tab_reuses_the_claims(page: Page, site: Site) -> None:
    assert sign_in(page, site, "developer") == "ready"
    page.goto(site.page_url("index"))
    page.goto(site.page_url(ACCESS))
    assert wait_ready(page) == "ready"
    assert state(page, "signin") == "signed-in" and state(page, "level") == "full"


def test_sign_out_clears_the_state_and_keeps_the_draft_unless_asked(page: Page, site: Site) -> None:
    assert sign_in(page, site, "basic-user") == "ready"
    page.fill('[name="institution"]', "CSIC")
    sign_out(page, site)
    assert state(page, "signin") == "signed-out"
    kept = page.evaluate("Object.keys(sessionStorage)")
    assert not [k for k in kept if k in ("access-checker:summary", "access-checker:claims")]
    drafts = page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('access-checker:draft:'))")
    assert drafts, "the draft was discarded without being asked"


def test_sign_out_can_discard_the_draft(page: Page, site: Site) -> None:
    assert sign_in(page, site, "basic-user") == "ready"
    page.fill('[name="institution"]', "CSIC")
    sign_out(page, site, discard_draft=True)
    assert not page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('access-checker:draft:'))")


DRAFT = "My draft must survive a failed sign-in."


def _draft_then(page: Page, site: Site) -> None:
    """Start anonymously and type a draft, to check that a failed sign-in keeps it."""
    page.goto(site.page_url(ACCESS))
    page.click("[data-action=start]")
    assert wait_ready(page) == "ready"
    page.fill('[name="why"]', DRAFT)


def _failed(page: Page, code: str) -> None:
    page.wait_for_function("(c) => document.querySelector('[data-access-checker]').dataset.error === c", arg=code,
                           timeout=30_000)
    assert wait_ready(page) == "ready"
    assert page.is_visible(".access-checker__message")
    assert "contact support" in page.inner_text(".access-checker__message")
    assert page.input_value('[name="why"]') == DRAFT


def test_forged_state_is_refused(page: Page, site: Site) -> None:
    _draft_then(page, site)
    open_provider_form(page, site)
    page.goto(site.page_url(ACCESS) + "?code=forged-code&state=forged-state")
    _failed(page, "state_mismatch")
    assert state(page, "signin") == "error"


def test_a_replayed_callback_is_refused(page: Page, site: Site) -> None:
    callbacks: list[str] = []
    page.on("framenavigated", lambda f: callbacks.append(f.url) if "code=" in f.url and f == page.main_frame else None)
    assert sign_in(page, site, "basic-user") == "ready"
    page.fill('[name="why"]', DRAFT)
    page.goto(callbacks[0])
    _failed(page, "replay")


def test_wrong_issuer_in_discovery_is_refused(page: Page, site: Site) -> None:
    _draft_then(page, site)
    set_faults(site, {"discovery_issuer": "http://127.0.0.1:1/wrong"})
    page.click("[data-action=sign-in]")
    _failed(page, "issuer_mismatch")


def test_provider_down_leaves_the_manual_form(page: Page, site: Site, watch: Watch) -> None:
    watch.expect_error("net::ERR_CONNECTION_RESET")
    _draft_then(page, site)
    set_faults(site, {"down": True})
    page.click("[data-action=sign-in]")
    _failed(page, "idp_down")
    assert state(page, "signin") == "unavailable"
    assert page.is_visible(".access-checker__form")


@pytest.mark.parametrize(("fault", "code"), [
    ({"token": "error"}, "token_error"),
    ({"token": "500"}, "token_error"),
    ({"userinfo": "500"}, "userinfo_error"),
    ({"userinfo": "malformed"}, "userinfo_error"),
])
def test_provider_errors_end_in_a_specific_message(
    page: Page, site: Site, watch: Watch, fault: dict[str, object], code: str,
) -> None:
    watch.expect_error("Failed to load resource: the server responded with a status of")
    _draft_then(page, site)
    open_provider_form(page, site)
    set_faults(site, fault)
    submit_login(page, "basic-user")
    page.wait_for_url(f"{site.page_url(ACCESS)}*", timeout=30_000)
    _failed(page, code)
    assert state(page, "signin") == "error"


def test_userinfo_refusing_the_token_falls_back_to_the_id_token(page: Page, site: Site, watch: Watch) -> None:
    watch.expect_error("status of 401")
    open_provider_form(page, site)
    set_faults(site, {"userinfo": "invalid_token"})
    submit_login(page, "ai4eosc-member")
    page.wait_for_url(f"{site.page_url(ACCESS)}*", timeout=30_000)
    assert wait_ready(page) == "ready"
    assert state(page, "signin") == "signed-in" and state(page, "level") == "full"
    assert "UserInfo refused" in page.inner_text(".access-checker__status")


def test_an_expired_token_asks_to_sign_in_again(page: Page, site: Site) -> None:
    set_faults(site, {"access_token_ttl": 3})
    assert sign_in(page, site, "ai4eosc-member") == "ready"
    page.wait_for_function("() => document.querySelector('[data-access-checker]').dataset.signin === 'expired'",
                           timeout=15_000)
    assert page.evaluate("sessionStorage.getItem('access-checker:summary')") is None
    assert page.inner_text("[data-action=sign-in]") == "Sign in again"
