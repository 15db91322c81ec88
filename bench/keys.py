"""Keystroke to message: how soon the form's message for a field follows a key the reader types.

On the access-levels page, once the checker is ready (new profile, start button): focus the
``why`` field, type a value that is too short, leave the field (Tab: from now on its message
shows), come back to the end of it, and type one key at a time. Each key changes the message,
because it counts the characters ("Write at least 20 characters (now 5)."), so every key gives
one sample. A key is typed only after the previous one's sample is in.

Measured in the page, on one clock (``performance.now()``, which an event's ``timeStamp`` is
on): from the ``input`` event's ``timeStamp`` (a capturing listener on the document) to the
first animation frame after the text of ``[data-error-for=why]`` changes (a MutationObserver,
then ``requestAnimationFrame``). The keystroke's round trip is all in there: the page reads the
form and saves the draft, the worker's Python validates and renders, the page patches.
"""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Playwright

from bench.common import BenchError, Deadline, log, stats
from bench.ready import _page, click_to_ready, fresh_profile

FIELD = "why"  # a paragraph field with a minimum length: its message names the count
START_TEXT = "ab"
KEYSTROKES = 15  # at most 17: the 18th makes the value long enough and the message empty
KEY_TIMEOUT_MS = 20_000

WATCH_JS = """
(name) => {
  const k = window.__keys = { pending: null, samples: [], last: null };
  const selector = `[data-error-for="${CSS.escape(name)}"]`;
  const text = () => document.querySelector(selector)?.textContent ?? null;
  k.last = text();
  document.addEventListener("input", (event) => {
    if (event.target instanceof Element && event.target.getAttribute("name") === name) k.pending = event.timeStamp;
  }, true);
  new MutationObserver(() => {
    const now = text();
    if (now === k.last) return;
    k.last = now;
    const input = k.pending;
    k.pending = null;
    if (input === null) return;
    const changed = performance.now();
    requestAnimationFrame(() => k.samples.push({ input, changed, frame: performance.now(), text: now }));
  }).observe(document.body, { subtree: true, childList: true, characterData: true });
}
"""


def run(pw: Playwright, access_url: str, deadline: Deadline, count: int = KEYSTROKES) -> dict[str, Any]:
    if not 1 <= count <= 17:
        raise BenchError(f"keystrokes: {count} keys do not fit the field's message (1 to 17)")
    selector = f"[name={FIELD}]"
    message = f"[data-error-for={FIELD}]"
    with fresh_profile(pw) as context:
        page = _page(context)
        deadline.check("keystroke to message")
        click_to_ready(page, access_url, "keystrokes")
        if page.locator(selector).count() != 1:
            raise BenchError(f"keystrokes: the ready checker shows no form field {selector}")
        page.focus(selector)
        page.keyboard.type(START_TEXT)
        page.keyboard.press("Tab")  # leave the field once: its message shows from now on
        page.wait_for_function(f"document.querySelector('{message}')?.textContent.length > 0", timeout=KEY_TIMEOUT_MS)
        first = page.text_content(message)
        page.focus(selector)
        page.keyboard.press("End")
        page.evaluate(WATCH_JS, FIELD)
        for index in range(count):
            deadline.check(f"keystroke {index + 1}")
            page.keyboard.press("x")
            try:
                page.wait_for_function("(n) => window.__keys.samples.length >= n", arg=index + 1, timeout=KEY_TIMEOUT_MS)
            except Exception as exc:
                raise BenchError(f"keystroke {index + 1}: the message did not change within {KEY_TIMEOUT_MS} ms "
                                 f"(it reads {page.text_content(message)!r})") from exc
        samples: list[dict[str, Any]] = page.evaluate("window.__keys.samples")
        value = page.input_value(selector)
        focused = page.evaluate("document.activeElement?.getAttribute('name') ?? null")
    expected = START_TEXT + "x" * count
    if value != expected:
        raise BenchError(f"keystrokes: the field reads {value!r} after typing, expected {expected!r} (caret or focus lost)")
    to_frame = [float(s["frame"]) - float(s["input"]) for s in samples]
    to_change = [float(s["changed"]) - float(s["input"]) for s in samples]
    log(f"keystroke to message: {', '.join(f'{v:.0f}' for v in to_frame)} ms")
    return {"field": FIELD, "keystrokes": count, "first_message": first, "last_message": samples[-1]["text"],
            "focus_kept": focused == FIELD, "to_frame": stats(to_frame), "to_change": stats(to_change)}
