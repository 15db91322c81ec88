"""The widget, seen from a test: its state, its form, its layout, and axe-core on it."""

from __future__ import annotations

import time
from typing import Any

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page

ACCESS = "reference/user-access-levels"


def settle(page: Page) -> str:
    """Wait on ``window.accessChecker.ready``: "ready", or "error" when it rejects."""
    return str(page.evaluate("window.accessChecker.ready.then(() => 'ready', () => 'error')"))


def settled(page: Page) -> None:
    """Wait until the worker has answered every message the page sent and the page shows it
    (``window.accessChecker.settled()``): the form's messages arrive a round trip after a key."""
    page.evaluate("window.accessChecker.settled()")


def wait_data(page: Page, name: str, value: str, timeout: float = 30_000) -> None:
    page.wait_for_function("([n, v]) => document.querySelector('[data-access-checker]').dataset[n] === v",
                           arg=[name, value], timeout=timeout)


def wait_new_document(page: Page, url: str, timeout: float = 30) -> None:
    """After ``page.evaluate("window.__left = true")`` and an action that leaves the page: wait
    until a new document at ``url`` has loaded (through any redirects in between)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            # One evaluation in the document itself: page.url can still name the old page while
            # the script already runs in a page in between (the provider's sign-out page, which
            # submits its own form once loaded, so its context goes away right after).
            if page.evaluate("""url => location.href.startsWith(url) && !window.__left
                                && document.readyState === 'complete'""", url):
                return
        except PlaywrightError:  # the context went away mid-navigation
            pass
        page.wait_for_timeout(100)
    raise AssertionError(f"no new document at {url} after {timeout} s (now at {page.url})")


def draft_entries(page: Page) -> dict[str, str]:
    return dict(page.evaluate(
        "Object.fromEntries(Object.entries(localStorage).filter(([k]) => k.startsWith('access-checker:draft:')))"))


def inline_errors(page: Page) -> dict[str, str]:
    """Field name -> the message shown next to it (empty fields left out), once settled."""
    settled(page)
    return {k: v for k, v in page.evaluate("""() => Object.fromEntries(
        [...document.querySelectorAll('[data-error-for]')].map(el => [el.dataset.errorFor, el.textContent]))""").items() if v}


def form_values(page: Page) -> dict[str, Any]:
    """What the form's controls hold, in the shape the widget hands to ``validate_form``."""
    return dict(page.evaluate("""() => {
      const form = document.querySelector('.access-checker__form');
      const out = {};
      for (const el of form.elements) {
        if (!el.name) continue;
        if (el.type === 'checkbox') {
          if (el.name === 'accepted_aup') out[el.name] = el.checked;
          else { out[el.name] = out[el.name] || []; if (el.checked) out[el.name].push(el.value); }
        } else out[el.name] = el.value;
      }
      return out;
    }"""))


LAYOUT_JS = """() => {
  const root = document.querySelector('[data-access-checker]');
  const box = root.getBoundingClientRect();
  let widest = 0, culprit = '';
  for (const el of root.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.width && r.right > widest) { widest = r.right; culprit = el.tagName + '.' + el.className; }
  }
  return { left: box.left, right: box.right, width: box.width, innerWidth: innerWidth,
           scrollWidth: document.documentElement.scrollWidth,
           rootScroll: root.scrollWidth, rootClient: root.clientWidth, widest, culprit };
}"""


def layout(page: Page) -> dict[str, Any]:
    return dict(page.evaluate(LAYOUT_JS))
