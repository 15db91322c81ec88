"""Python in its worker, seen from the page: the protocol, the renderer's patches, a crash.

The page and the worker talk only in messages. These tests record every message both ways in
a real session and check each against the protocol's schema; type into the form and check the
reader's field, caret and focus survive every re-render; feed the renderer what it must refuse;
and kill the worker mid-session.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

from tests.e2e.conftest import Site, Watch, state, wait_ready
from tests.e2e.widget import ACCESS, draft_entries, inline_errors, wait_data

SCHEMA = Path(__file__).resolve().parents[2] / "checker/core/access_checker/web/protocol.schema.json"

# Records each message the page posts to a worker and each one it receives.
RECORD = """
window.__protocol = [];
const Native = window.Worker;
window.Worker = class extends Native {
  constructor(...args) {
    super(...args);
    this.addEventListener("message", (e) => window.__protocol.push(["worker", e.data]));
  }
  postMessage(message, ...rest) {
    window.__protocol.push(["page", message]);
    return super.postMessage(message, ...rest);
  }
};
"""


def start(page: Page, site: Site) -> None:
    page.goto(site.page_url(ACCESS))
    page.click("[data-action=start]")
    assert wait_ready(page) == "ready"


def test_messages_follow_the_schema_and_typing_keeps_focus_and_caret(page: Page, site: Site) -> None:
    from jsonschema import Draft202012Validator  # type: ignore[import-untyped]

    page.add_init_script(RECORD)
    start(page, site)
    why = page.locator('.access-checker__form [name="why"]')
    why.fill("too short")
    why.blur()
    expect(page.locator('[data-error-for="why"]')).to_contain_text("at least 20")
    # Mark the nodes: a re-render that replaced them would lose the marks.
    page.evaluate("""() => { const f = document.querySelector('.access-checker__form');
        f.__mark = 1; f.elements.why.__mark = 1; }""")
    why.click()
    page.keyboard.press("Control+Home")
    for _ in "too":
        page.keyboard.press("ArrowRight")  # the caret inside the text, not at its end
    for key in ", but now long enough":
        page.keyboard.type(key)
    expect(page.locator('[data-error-for="why"]')).to_have_text("")
    kept = page.evaluate("""() => { const f = document.querySelector('.access-checker__form');
        const el = document.activeElement;
        return { form: f.__mark === 1, field: el === f.elements.why && el.__mark === 1,
                 value: el.value, caret: el.selectionStart, invalid: el.getAttribute('aria-invalid') }; }""")
    assert kept == {"form": True, "field": True, "value": "too, but now long enough short",
                    "caret": len("too, but now long enough"), "invalid": None}
    page.click(".access-checker__form button[type=submit]")
    expect(page.locator('[data-error-for="name"]')).to_have_text("Enter your name.")
    page.click("[data-action=discard]")
    expect(why).to_have_value("")

    recorded: list[list[Any]] = page.evaluate("window.__protocol")
    validator = Draft202012Validator(json.loads(SCHEMA.read_text()))
    for side, message in recorded:
        problems = [e.message for e in validator.iter_errors(message)]
        assert not problems, (side, message.get("type"), problems)
    sent = [m["type"] for side, m in recorded if side == "page"]
    received = [m["type"] for side, m in recorded if side == "worker"]
    assert sent[:2] == ["init", "show"] and {"input", "blur", "submit", "action"} <= set(sent)
    assert received.count("booted") == 1 and received.count("render") == len(sent) - 1


def test_the_renderer_refuses_markup_scripts_and_unsafe_links(page: Page, site: Site) -> None:
    page.goto(site.page_url(ACCESS))
    result = page.evaluate("""async () => {
      const src = document.querySelector('script[src*="widget.mjs"]').src;
      const { patch } = await import(new URL('render.mjs', src).href);
      const box = document.createElement('div');
      patch(box, [
        { t: 'script', a: {}, c: ['window.__ran = 1'] },
        { t: 'a', a: { href: 'javascript:window.__ran = 2', onclick: 'window.__ran = 3', 'data-x': 'y' }, c: ['<b>x</b>'] },
        { t: 'a', a: { href: 'mailto:a@example.org' }, c: ['ok'] },
      ]);
      return { html: box.innerHTML, scripts: box.querySelectorAll('script').length };
    }""")
    assert result["scripts"] == 0
    assert result["html"] == ('<span>window.__ran = 1</span><a data-x="y">&lt;b&gt;x&lt;/b&gt;</a>'
                              '<a href="mailto:a@example.org">ok</a>')
    assert page.evaluate("window.__ran") is None


def test_a_worker_that_dies_mid_session_keeps_the_draft_and_restarts(page: Page, site: Site, watch: Watch) -> None:
    start(page, site)
    page.fill('.access-checker__form [name="name"]', "Jan Novák")
    page.check('.access-checker__form [name="projects"][value="ai4life"]')
    assert json.loads(draft_entries(page)["access-checker:draft:anonymous"])["fields"]["name"] == "Jan Novák"
    (worker,) = page.workers
    worker.evaluate("setTimeout(() => { throw new Error('the worker dies') })")
    wait_data(page, "error", "worker_crashed")
    assert state(page) == "error"
    message = page.locator(".access-checker__message")
    assert "stopped working" in message.inner_text() and "draft is kept" in message.inner_text()
    # What the reader typed is still on the page, and in storage.
    assert page.input_value('.access-checker__form [name="name"]') == "Jan Novák"
    assert json.loads(draft_entries(page)["access-checker:draft:anonymous"])["fields"]["name"] == "Jan Novák"
    page.click("[data-action=restart]")
    wait_data(page, "state", "ready")  # (window.accessChecker.ready settled with the first boot)
    assert page.locator(".access-checker__message").is_hidden()
    assert page.input_value('.access-checker__form [name="name"]') == "Jan Novák"
    assert page.is_checked('.access-checker__form [name="projects"][value="ai4life"]')
    assert len(page.workers) == 1
    # The restarted checker works: its messages come back.
    page.locator('.access-checker__form [name="email"]').fill("x")
    page.locator('.access-checker__form [name="email"]').blur()
    expect(page.locator('[data-error-for="email"]')).not_to_have_text("")
    assert "email" in inline_errors(page)
