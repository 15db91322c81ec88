"""Requirement boxes after a real sign-in: the verdict matches the account's assessment."""

from __future__ import annotations

from playwright.sync_api import Page

from tests.e2e.conftest import Site, Watch, state
from tests.e2e.signin import ACCESS, expected, sign_in, sign_out


def _verdict(page: Page, site: Site, docname: str) -> str | None:
    page.goto(site.page_url(docname))
    box = page.query_selector(".access-requirement")
    assert box, f"{docname} has no requirements box"
    verdict = box.query_selector(".access-verdict")
    return verdict.inner_text() if verdict else None


def test_a_signed_in_reader_sees_verdicts_then_none_after_sign_out(page: Page, site: Site, watch: Watch) -> None:
    assert sign_in(page, site, "imagine-member") == "ready"
    want = expected("imagine-member")
    booted = len(watch.requests)
    for verdict in want.features:
        text = _verdict(page, site, verdict.feature.page)
        assert text is not None, verdict.feature.page
        if verdict.allowed:
            names = ", ".join(want.policy.project(p).name for p in verdict.projects)
            assert text == f"You have access (in {names}).", verdict.feature.id
        else:
            assert "You need" in text and "see how to upgrade" in text, verdict.feature.id
    # The feature pages loaded no part of the runtime.
    assert not [u for u in watch.requests[booted:] if "/runtime-" in u or ".whl" in u or "widget.mjs" in u]

    page.goto(site.page_url(ACCESS))
    page.wait_for_function("() => document.querySelector('[data-access-checker]').dataset.state === 'ready'")
    sign_out(page, site)
    assert state(page, "signin") == "signed-out"
    assert _verdict(page, site, "howtos/train/index") is None
