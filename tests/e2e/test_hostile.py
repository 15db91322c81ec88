"""Hostile text through every form field and every claim a provider sends (Chromium, real Pyodide).

The site under test here is a second stack: its own build, its own demo provider with hostile
accounts (``tests.e2e.hostile.hostile_accounts``), and **no Content-Security-Policy at all** (no header,
no meta tag). A CSP would block an injected ``onerror`` handler silently; without one, text that
reached the page as HTML would run and open a dialog, so "no dialog" proves the rendering, not
the policy. (The policy itself is tested in ``test_headers.py``.)

Each input is checked for: no dialog, no element or handler created from it, the layout holding
at 360 and 1280 px, the inline message the core's own validator gives for what the field holds,
and, for valid text, JSON, text and mailto outputs that round-trip.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from playwright.sync_api import Browser, Page, Route, expect

from access_checker import default_policy, request
from dev.stack import free_port, running_stack
from tests.conftest import TEST_CACHE
from tests.e2e.builds import build
from tests.e2e.conftest import Site
from tests.e2e.hostile import (
    DANGER_JS,
    HOSTILE,
    HOSTILE_EMAILS,
    LONE_SURROGATE_JS,
    RECORD_ADDED,
    claims_of,
    essay,
    hostile_accounts,
    nfc_trim,
)
from tests.e2e.signin import open_provider_form, submit_login
from tests.e2e.watched import Watched, watched_context
from tests.e2e.widget import ACCESS, form_values, inline_errors, layout, settle, settled, wait_new_document

POLICY = default_policy()
FIELDS = {f.name: f for f in request.form_fields(POLICY)}
TEXT_FIELDS = [f.name for f in FIELDS.values() if f.kind in ("text", "email", "multiline")]
NUMBER_FIELDS = [f.name for f in FIELDS.values() if f.kind == "number"]
HOSTILE_NUMBERS = ["-1", "1e3", "2.5", "99999999999999999999999", "0x10", "١٢", "NaN", "+1", "1,000", "Infinity"]
VALID_EMAIL = "o'hara+{tag}|~!$%&*=?^`#@example.org"
GOOD = {"resources.gpus": "1", "resources.storage_gb": "200", "duration_months": "6"}
ACCOUNTS = hostile_accounts()
# Counted as they are tried; reported at the end of the module.
TRIED: dict[str, int] = {}


@pytest.fixture(scope="module")
def hostile(site: Site, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    base = tmp_path_factory.mktemp("hostile")
    accounts = base / "hostile_accounts.json"
    accounts.write_text(json.dumps(ACCOUNTS, ensure_ascii=False))
    port, idp_port = free_port(), free_port()
    # The session build's cache holds the staged and precompiled runtime, and its doctrees the
    # read sources: only pages are written.
    out = build(base / "html", issuer=f"http://127.0.0.1:{idp_port}", cache=TEST_CACHE,
                extra=("-D", "access_checker_csp_meta=0"), read_by=site.root)
    assert 'http-equiv="Content-Security-Policy"' not in (out / f"{ACCESS}.html").read_text()
    with running_stack(out, port=port, idp_port=idp_port, accounts=accounts, csp_override="") as stack:
        yield Site(out, stack)
    print(f"\nhostile inputs tried: {sum(TRIED.values())} {TRIED}")


@pytest.fixture(scope="module")
def anonymous(hostile: Site, browser: Browser) -> Iterator[tuple[Page, Watched]]:
    """One booted page (not signed in) shared by the form tests of this module."""
    with watched_context(browser, [hostile.url]) as watched:
        watched.context.add_init_script(RECORD_ADDED)
        watched.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=hostile.url)
        page = watched.page()
        page.goto(hostile.page_url(ACCESS))
        page.click("[data-action=start]")
        assert settle(page) == "ready"
        yield page, watched


# ---------------------------------------------------------------------------------------------
# Helpers


def clean(page: Page, watched: Watched) -> None:
    """Nothing ran, nothing was created from the input, nothing failed."""
    danger = page.evaluate(DANGER_JS)
    made = {k: v for k, v in danger.items() if v not in (0, [])}
    assert not made, f"elements, handlers or URLs created from the input: {made}"
    assert not watched.dialogs, watched.dialogs
    assert not watched.watch.unexpected_errors(), watched.watch.unexpected_errors()


def holds_layout(page: Page) -> None:
    """At 360 and 1280 px the widget stays inside the viewport and adds no horizontal scroll."""
    for width in (360, 1280):
        page.set_viewport_size({"width": width, "height": 900})
        box = layout(page)
        assert box["width"] <= width and box["right"] <= width, (width, box)
        assert box["scrollWidth"] <= box["innerWidth"], (width, box)
        assert box["rootScroll"] <= box["rootClient"] + 1, (width, box)
    page.set_viewport_size({"width": 1280, "height": 900})


def set_value(page: Page, name: str, js_value: str) -> None:
    """Set a control from page JS (numbers, and text Playwright's protocol cannot carry)."""
    page.evaluate(f"""() => {{
      const el = document.querySelector('.access-checker__form [name="{name}"]');
      el.value = {js_value};
      el.dispatchEvent(new Event('input', {{ bubbles: true }}));
    }}""")


def submit(page: Page) -> None:
    page.click(".access-checker__form button[type=submit]")
    settled(page)


def expected_errors(page: Page) -> dict[str, str]:
    """What the core's validator (on CPython) says about what the form's controls hold."""
    result = request.validate_form(form_values(page), POLICY)
    return {k: v for k, v in result.errors.items() if k in FIELDS}


def described(page: Page) -> None:
    """Every control in error is marked invalid and tied to its message."""
    loose = page.evaluate("""() => [...document.querySelectorAll('[data-error-for]')]
      .filter(el => el.textContent)
      .flatMap(el => [...document.querySelectorAll(`.access-checker__form [name="${el.dataset.errorFor}"]`)]
        .filter(c => c.getAttribute('aria-invalid') !== 'true'
          || !((c.getAttribute('aria-describedby') || c.closest('[aria-describedby]')?.getAttribute('aria-describedby') || '')
               .split(' ').includes(el.id)))
        .map(c => c.name))""")
    assert not loose, f"controls in error not tied to their message: {loose}"


def download(page: Page, tmp_path: Path, name: str) -> tuple[Path, dict[str, Any]]:
    with page.expect_download() as info:
        page.click("[data-output=download]")
    saved = tmp_path / name
    info.value.save_as(saved)
    return saved, json.loads(saved.read_text(encoding="utf-8"))


def cli_validate(*paths: Path) -> None:
    """``python -m access_checker validate FILE`` says each file is valid (run side by side)."""
    runs = [(path, subprocess.Popen([sys.executable, "-m", "access_checker", "validate", str(path)],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)) for path in paths]
    for path, run in runs:
        _, stderr = run.communicate(timeout=60)
        assert run.returncode == 0, f"{path.name}: {stderr}"


MAILTO = re.compile(r"^mailto:[A-Za-z0-9._~%@-]+\?subject=[A-Za-z0-9._~%-]*&body=[A-Za-z0-9._~%-]*$")


def outputs_round_trip(page: Page, tmp_path: Path, name: str) -> dict[str, Any]:
    """Download, copy and mailto all hold the same request, well-formed (the JSON file is left
    in ``tmp_path`` for ``cli_validate``)."""
    expect(page.locator("[data-outputs]")).to_be_visible()
    saved, document = download(page, tmp_path, name)
    assert not request.validate_document(document, POLICY)
    req = request.from_document(document, POLICY)
    assert saved.read_text(encoding="utf-8") == request.to_json(req), "the JSON file is not canonical"
    # Text: what "Copy request" puts on the clipboard is the core's summary plus the JSON.
    page.click("[data-output=copy]")
    page.wait_for_function("document.querySelector('.access-checker__status').textContent.includes('copied')")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == request.summary_text(req, POLICY) + "\n" + request.to_json(req)
    # mailto: RFC 6068 encoded, two parameters only, decodes to the core's link.
    href = page.get_attribute("[data-output=mailto]", "href") or ""
    assert MAILTO.match(href), href[:300]
    assert len(href) <= request.MAILTO_MAX
    assert href == request.mailto_url(req, POLICY).url
    query = parse_qs(urlsplit(href).query, keep_blank_values=True, errors="strict")
    assert set(query) == {"subject", "body"}
    body = unquote(href.split("&body=", 1)[1], errors="strict")
    assert "\r\n" in body and "\n" not in body.replace("\r\n", "")
    if "attach the file" not in body:
        assert body == request.summary_text(req, POLICY).replace("\n", "\r\n")
    return document


def count(kind: str, n: int = 1) -> None:
    TRIED[kind] = TRIED.get(kind, 0) + n


# ---------------------------------------------------------------------------------------------
# Form fields


def test_hostile_text_in_every_field_gets_the_validators_message(anonymous: tuple[Page, Watched]) -> None:
    page, watched = anonymous
    submit(page)  # every field touched: messages follow each change from now on
    for hostile in HOSTILE:
        for name in TEXT_FIELDS:
            page.fill(f'.access-checker__form [name="{name}"]', hostile.text)
        count("text x field", len(TEXT_FIELDS))
        submit(page)
        shown = inline_errors(page)
        assert shown == expected_errors(page), hostile.label
        # What the reader typed is kept as typed (the browser's own line-break rules aside).
        values = form_values(page)
        draft = json.loads(page.evaluate("localStorage.getItem('access-checker:draft:anonymous')"))["fields"]
        assert all(draft[k] == values[k] for k in TEXT_FIELDS), hostile.label
        described(page)
        clean(page, watched)
        holds_layout(page)

    # The messages say what is wrong, in words, next to the field.
    by_label = {h.label: h for h in HOSTILE}
    checks = {
        "bidi override U+202E": ("name", "hidden text-direction character (U+202E)"),
        "NUL": ("institution", "invisible control character (U+0000)"),
        "C1 control": ("heard_from", "invisible control character (U+0085)"),
        "line separator U+2028": ("name", "Keep this on one line"),
        "tab": ("name", "Remove the tab"),
        "100 KB of markup": ("why", "Shorten this to at most 4,000 characters (now 102,400)."),
    }
    for label, (name, fragment) in checks.items():
        page.fill(f'.access-checker__form [name="{name}"]', by_label[label].text)
        submit(page)
        assert fragment in inline_errors(page).get(name, ""), (label, inline_errors(page))


def test_hostile_values_in_numbers_checkboxes_and_email(anonymous: tuple[Page, Watched]) -> None:
    page, watched = anonymous
    for value in HOSTILE_NUMBERS:
        for name in NUMBER_FIELDS:
            set_value(page, name, json.dumps(value))
        count("number x field", len(NUMBER_FIELDS))
        submit(page)
        assert inline_errors(page) == expected_errors(page), value
        for name in NUMBER_FIELDS:
            assert "whole number" in inline_errors(page)[name], (value, name)
    for hostile in HOSTILE_EMAILS:
        page.fill('.access-checker__form [name="email"]', hostile.text)
        count("e-mail")
        submit(page)
        assert inline_errors(page) == expected_errors(page), hostile.label
        clean(page, watched)
        holds_layout(page)
    # A page tampered with (or out of date) offers choices the policy does not know.
    for hostile in HOSTILE[:6]:
        page.evaluate("""(text) => document.querySelectorAll('.access-checker__form input[type=checkbox]')
          .forEach((box) => { if (box.name !== 'accepted_aup') { box.value = text; box.checked = true; } })""", hostile.text)
        page.dispatch_event('.access-checker__form [name="projects"]', "change")
        count("checkbox value", 2)
        submit(page)
        shown = inline_errors(page)
        assert shown == expected_errors(page), hostile.label
        assert shown["projects"] == "Choose projects from the list; reload the page if it is out of date."
        clean(page, watched)
    # Text JavaScript can hold but UTF-8 cannot: half a surrogate pair.
    set_value(page, "name", LONE_SURROGATE_JS)
    count("lone surrogate")
    submit(page)
    assert "Remove the broken character at position 4" in inline_errors(page)["name"]
    clean(page, watched)


def fill_valid_rest(page: Page) -> None:
    for name, value in GOOD.items():
        page.fill(f'.access-checker__form [name="{name}"]', value)
    for group, value in (("projects", "imagine"), ("features", "train")):
        page.evaluate("""([group, value]) => document.querySelectorAll(`.access-checker__form [name="${group}"]`)
          .forEach((box) => { box.checked = box.value === value; })""", [group, value])
    page.check('.access-checker__form [name="accepted_aup"]')


def test_valid_hostile_text_round_trips_through_every_output(anonymous: tuple[Page, Watched], tmp_path: Path) -> None:
    page, watched = anonymous
    page.reload()  # a clean form with the policy's own checkboxes
    assert settle(page) == "ready"
    page.click("[data-action=forget]")
    settled(page)  # the cleared form is shown before it is filled, not over what is typed
    fill_valid_rest(page)
    line_fields = ["name", "institution", "heard_from"]
    round_tripped = 0
    refused: list[str] = []
    for index, hostile in enumerate(HOSTILE):
        values = {**dict.fromkeys(line_fields, hostile.text), "why": essay(hostile.text),
                  "planned_use": essay(hostile.text), "email": VALID_EMAIL}
        for name, value in values.items():
            page.fill(f'.access-checker__form [name="{name}"]', value)
        submit(page)
        if expected_errors(page):
            assert inline_errors(page) == expected_errors(page), hostile.label
            refused.append(hostile.label)
            continue  # invalid text: its message was checked in the test above
        held = form_values(page)
        document = outputs_round_trip(page, tmp_path, f"request-{index}.json")
        for name in [*line_fields, "email"]:
            assert document[name] == nfc_trim(held[name]), (hostile.label, name)
        for name in ("why", "planned_use"):
            assert document[name] == nfc_trim(held[name], multiline=True), (hostile.label, name)
        # What the page held is what was typed, but for the browser's own rules on line breaks
        # (Chromium turns each one into a space in a one-line field, and CR into LF in a textarea).
        assert held["name"] == re.sub(r"\r\n|[\r\n]", " ", values["name"]), hostile.label
        assert held["why"] == values["why"].replace("\r\n", "\n").replace("\r", "\n"), hostile.label
        round_tripped += 1
        count("round trip (5 text fields)", 5)
        clean(page, watched)
        holds_layout(page)
    # Only what the validator rejects everywhere stays out: markup, URLs, emoji and ZWJ are text.
    assert refused == ["bidi override U+202E", "bidi isolate U+2067", "C0 controls and escape", "NUL", "C1 control",
                       "DEL", "line separator U+2028", "tab", "100 KB of markup"]
    assert round_tripped == len(HOSTILE) - len(refused)
    cli_validate(*sorted(tmp_path.glob("request-*.json")))


# ---------------------------------------------------------------------------------------------
# Claims


def test_account_values_a_request_cannot_carry_do_not_block_it(
    anonymous: tuple[Page, Watched], hostile: Site, tmp_path: Path,
) -> None:
    """Claims kept in the tab are evaluated again on the next visit, with no provider in between:
    an identity provider of 150 characters passes the core's claim limit (256) but not the
    request's (100). The reader cannot edit it, so it is left out of the request."""
    page, watched = anonymous
    claims = {"sub": "3a120d71-892e-400b-9a07-c0f6bf565012", "iss": hostile.stack.idp_url, "name": "Ana Torres",
              "email": "ana.torres@example.org", "identity_provider": "https://idp.example.org/" + "x" * 126,
              "realm_access": {"roles": ["access:vo.ai4eosc.eu:ap-0"]}}
    count("claims (kept in the tab)", len(claims))
    page.evaluate("(kept) => sessionStorage.setItem('access-checker:claims', kept)",
                  json.dumps({"claims": claims, "expires": int(time.time()) + 3600}))
    page.reload()
    assert settle(page) == "ready"
    assert page.evaluate("document.querySelector('[data-access-checker]').dataset.signin") == "signed-in"
    fill_valid_rest(page)
    for name in ("institution", "why", "planned_use", "heard_from"):
        page.fill(f'.access-checker__form [name="{name}"]', "Placeholder long enough for any field")
    submit(page)
    assert not inline_errors(page), inline_errors(page)
    document = outputs_round_trip(page, tmp_path, "kept.json")
    cli_validate(tmp_path / "kept.json")
    assert document["account"]["subject"] == claims["sub"]
    assert document["account"]["identity_provider"] is None
    clean(page, watched)
    page.click("[data-action=forget]")
    settled(page)


@pytest.mark.parametrize("login", list(ACCOUNTS))
def test_hostile_claims_render_as_text(hostile: Site, browser: Browser, tmp_path: Path, login: str) -> None:
    claims = claims_of(ACCOUNTS, login)
    userinfo: list[dict[str, Any]] = []
    with watched_context(browser, [hostile.url]) as watched:
        watched.context.add_init_script(RECORD_ADDED)
        watched.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=hostile.url)
        page = watched.page()
        # Read UserInfo through a route: the browser's copy of a response body can be evicted
        # while the runtime downloads, so an event listener may not see it.
        def record(route: Route) -> None:
            response = route.fetch()
            if response.ok:
                userinfo.append(response.json())
            route.fulfill(response=response)

        page.route(f"{hostile.stack.idp_url}/me", record)
        open_provider_form(page, hostile)
        submit_login(page, login)
        page.wait_for_url(f"{hostile.page_url(ACCESS)}*", timeout=30_000)
        assert settle(page) == "ready"
        count("claims (sign-in)", len(claims))
        # The provider really sent the hostile values, long ones included, at UserInfo.
        released = {k: v for k, v in claims.items() if k != "identity_provider"}  # no scope releases it
        assert userinfo and all(userinfo[0].get(k) == v for k, v in released.items()), "UserInfo lacks the account's claims"
        assert page.evaluate("document.querySelector('[data-access-checker]').dataset.signin") == "signed-in"
        clean(page, watched)
        holds_layout(page)

        # The name shown next to "Sign out" is one short line, whatever the provider sent.
        assert len(page.inner_text(".access-checker__who")) <= len("Signed in as ") + 80
        # What the page shows of the claims is text: no control or text-direction character.
        shown = page.evaluate("document.querySelector('[data-access-checker]').innerText")
        assert not re.search("[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]", shown), \
            [hex(ord(c)) for c in set(re.findall("[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]", shown))]
        if login == "hostile-markup":
            ignored = page.inner_text("[data-list=ignored]")
            assert "realm_access.roles[1] = <img src=x onerror=alert(1)>" in ignored
            assert '"><script>alert(1)</script>' in ignored
            assert "\\u202e" in ignored  # a direction override is shown escaped, not applied

        # The form is prefilled from the claims, and says what is wrong with them.
        assert page.input_value('[name="name"]') == claims["name"]
        submit(page)
        assert inline_errors(page) == expected_errors(page)
        described(page)
        clean(page, watched)

        # Made valid, the request goes out with the account context from the sign-in.
        fill_valid_rest(page)
        for name, value in (("name", "Ana Torres"), ("email", VALID_EMAIL), ("institution", claims["name"]),
                            ("why", essay(str(claims["name"]))), ("planned_use", essay(str(claims["sub"]))),
                            ("heard_from", "A colleague")):
            if not isinstance(value, str) or len(value) > 4000 or request.validate_form(
                    {name: value}, POLICY).errors.get(name):
                value = "Placeholder long enough for any field"
            page.fill(f'.access-checker__form [name="{name}"]', value)
        submit(page)
        assert not inline_errors(page), inline_errors(page)
        document = outputs_round_trip(page, tmp_path, f"{login}.json")
        cli_validate(tmp_path / f"{login}.json")
        account = document["account"]
        assert account["self_reported"] is False and account["issuer"] == hostile.stack.idp_url
        assert account["levels"] == page.evaluate("window.accessChecker.assessment.projects")
        # A subject a request cannot carry (here: a direction override) is left out, not fatal.
        carried = "account.subject" not in request.validate_form({}, POLICY, account={
            "self_reported": False, "subject": claims["sub"], "issuer": None, "identity_provider": None,
            "levels": {}}).errors
        assert account["subject"] == (claims["sub"] if carried else None), login
        assert login != "hostile-chars" or not carried
        clean(page, watched)
        holds_layout(page)

        # Signing out ends the provider's session too, and comes back here, however big the
        # ID token (hostile-long's would make an address too long for servers as a hint).
        page.evaluate("window.__left = true")
        page.click("[data-action=sign-out]")
        page.click("[data-action=sign-out-keep]")
        wait_new_document(page, hostile.page_url(ACCESS))
        assert page.evaluate("document.querySelector('[data-access-checker]').dataset.signin") == "signed-out"
        assert page.evaluate("sessionStorage.getItem('access-checker:claims')") is None
