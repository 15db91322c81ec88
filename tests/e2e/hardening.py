"""Helpers for the hardening tests: hostile text, extra builds and servers, watched contexts, axe.

The session fixtures of ``conftest.py`` serve one healthy site. The hardening tests also need
sites of their own (a second stack with hostile demo accounts, copies of a build with parts
broken on purpose), and the same watching for those: a request that leaves 127.0.0.1, a
console error, a page error or a Content-Security-Policy violation fails the test unless the
test names it as something it causes on purpose.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import re
import subprocess
import sys
import time
import unicodedata
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import Browser, BrowserContext, Dialog, Page
from playwright.sync_api import Error as PlaywrightError

from tests.conftest import DEMO_CLIENT_ID, NODE_MODULES, REPO, sphinx_build
from tests.e2e.conftest import WATCH, Watch

ACCESS = "reference/user-access-levels"
AXE = NODE_MODULES / "axe-core" / "axe.min.js"
SERVER = REPO / "dev" / "serve.py"
# What the form strips from both ends (the reader's spaces and line breaks), as the core does.
STRIP = " \t\n\r\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000"


# ---------------------------------------------------------------------------------------------
# Hostile text


@dataclass(frozen=True)
class Hostile:
    label: str
    text: str


INJECTION = "<img src=x onerror=alert(1)>"
# 100 KB of markup: the longest thing a reader might paste, and hostile all the way through.
LONG = (INJECTION * (102_400 // len(INJECTION) + 1))[:102_400]

HOSTILE: tuple[Hostile, ...] = (
    Hostile("img onerror", INJECTION),
    Hostile("svg onload breakout", '"><svg onload=alert(1)>'),
    Hostile("script element", "</p><script>alert(document.domain)</script>"),
    Hostile("single-quote attribute breakout", "' onmouseover='alert(1)' x='"),
    Hostile("double-quote attribute breakout", '" autofocus onfocus="alert(1)'),
    Hostile("javascript: URL", "javascript:alert(1)"),
    Hostile("data: URL", "data:text/html,<script>alert(1)</script>"),
    Hostile("iframe srcdoc", '<iframe srcdoc="<script>alert(1)</script>"></iframe>'),
    Hostile("style element", "<style>*{display:none}</style><b>bold</b>"),
    Hostile("HTML entities", "&lt;img src=x onerror=alert(1)&gt; &amp; &#x3C;script&#x3E;"),
    Hostile("template syntax", "{{7*7}} ${7*7} %s %n {0} <%= 7*7 %>"),
    Hostile("SQL", "Robert'); DROP TABLE students;--"),
    Hostile("mail header injection", "x%0D%0ABcc: evil@example.org&cc=evil@example.org?body=owned"),
    Hostile("bidi override U+202E", "Ana \u202eseroT\u202c"),
    Hostile("bidi isolate U+2067", "\u2067txet\u2069 Torres"),
    Hostile("zero-width characters", "Ana\u200b Tor\u200cres\u200d\ufeff"),
    Hostile("C0 controls and escape", "Ana\x01\x1b[31mTorres\x07"),
    Hostile("NUL", "Ana\x00Torres"),
    Hostile("C1 control", "Ana\x85Torres"),
    Hostile("DEL", "Ana\x7fTorres"),
    Hostile("line separator U+2028", "Ana\u2028Torres"),
    Hostile("tab", "Ana\tTorres"),
    Hostile("line breaks", "First line\r\nsecond line\rthird line"),
    Hostile("100 KB of markup", LONG),
    Hostile("emoji with ZWJ, skin tone and flags", "Marta 👩🏽‍🔬 Ruiz 🏳️‍🌈 👨‍👩‍👧‍👦 🇪🇸 🏴󠁧󠁢󠁳󠁣󠁴󠁿"),
    Hostile("combining marks (NFD)", "Jose\u0301 Mun\u0303oz Ha\u0308kkinen"),
    Hostile("right-to-left script", "مرحبا بالعالم، שלום עולם"),
    Hostile("CJK and astral", "東京大学 𠀋𡈽 𝔘𝔫𝔦𝔠𝔬𝔡𝔢"),
    Hostile("edge spaces", " \u3000\u00a0 Ana Torres \u2003 "),
)

# Text that JS can hold but Python's JSON and Playwright's protocol cannot: set from page JS.
LONE_SURROGATE_JS = "'Ana\\uD800Torres'"

# E-mail addresses: hostile but valid ones go through to the outputs, the rest get a message.
HOSTILE_EMAILS: tuple[Hostile, ...] = (
    Hostile("quote and plus", "o'hara+{tag}|~!$%&*=?^`#@example.org"),
    Hostile("internationalised", "ユーザー@例え.テスト"),
    Hostile("emoji local part", "🦄.👩🏽‍🔬@example.org"),
    Hostile("markup", '"><img src=x onerror=alert(1)>@example.org'),
    Hostile("javascript", "javascript:alert(1)//@example.org"),
    Hostile("two at signs", "a@b@example.org"),
    Hostile("bidi", "ana\u202e@example.org"),
    Hostile("long local part", "a" * 65 + "@example.org"),
    Hostile("100 KB", "a" * 102_390 + "@example.org"),
)


def nfc_trim(text: str, *, multiline: bool = False) -> str:
    """What the form keeps of a text: NFC, CRLF to LF in essays, trimmed (request.py's rules)."""
    if multiline:
        text = text.replace("\r\n", "\n")
    return unicodedata.normalize("NFC", text).strip(STRIP)


def essay(text: str) -> str:
    """The same text, made long enough (20 characters) for the two essay fields."""
    return text if len(nfc_trim(text, multiline=True)) >= 20 else f"{text} — long enough to count as a reason"


# ---------------------------------------------------------------------------------------------
# Hostile demo accounts: every claim a provider sends, filled with the corpus


MARKUP_ROLES = [
    "access:vo.ai4eosc.eu:ap-0",
    INJECTION,
    "access:vo.ai4eosc.eu:\"><svg/onload=alert(1)>",
    "access:<img/src=x/onerror=alert(1)>:ap-u",
    "javascript:alert(1)",
    "access:\u202evo.ai4eosc.eu:ap-u",
    "role\x00with-nul",
    "👩🏽‍🔬-access:vo.ai4eosc.eu",
]
MARKUP_ENTITLEMENTS = [
    "urn:mace:egi.eu:group:vo.imagine-ai.eu:role=<svg/onload=alert(1)>#aai.egi.eu",
    "urn:mace:egi.eu:group:vo.ai4life.eu:role=member#<img/src=x/onerror=alert(1)>",
    '"><script>alert(1)</script>',
    "urn:mace:egi.eu:group:\u202evo.imagine-ai.eu:role=member#aai.egi.eu",
]


def hostile_accounts() -> dict[str, dict[str, object]]:
    """Demo provider accounts (login -> claims) whose every claim is hostile.

    - ``hostile-markup``: markup, attribute breakouts and javascript: URLs in every claim.
    - ``hostile-long``: 100 KB values (name, e-mail, identity provider, a role, an entitlement)
      and more roles than the core reads. The provider sends every claim at UserInfo.
    - ``hostile-chars``: a subject with a bidi override, controls and NUL in the name, an
      identity provider longer than a request may carry (the core accepts 256 characters in a
      claim, a request 100), zero-width characters and emoji.
    """
    return {
        "hostile-markup": {
            "_description": "markup in every claim",
            "sub": "<script>alert('sub')</script>\"><img src=x onerror=alert(1)>",
            "preferred_username": "' onmouseover='alert(1)' x='",
            "name": "\"><svg onload=alert(1)><img src=x onerror=alert(2)> 👩🏽‍🔬",
            "given_name": "<iframe srcdoc=\"<script>alert(1)</script>\">",
            "family_name": "javascript:alert(1)",
            "email": "o'hara+<b>x</b>@example.org",
            "email_verified": True,
            "identity_provider": "<a href=\"javascript:alert(1)\">click</a>",
            "realm_access": {"roles": MARKUP_ROLES},
            "eduperson_entitlement": MARKUP_ENTITLEMENTS,
        },
        "hostile-long": {
            "_description": "100 KB claims",
            "sub": "long-" + "x" * 200,
            "preferred_username": "long",
            "name": LONG,
            "given_name": "A" * 102_400,
            "email": "a" * 102_390 + "@example.org",
            "email_verified": True,
            "identity_provider": LONG,
            "realm_access": {"roles": ["access:vo.ai4eosc.eu:ap-0", LONG,
                                       *[f"access:vo.example{i}.eu:ap-u" for i in range(300)]]},
            "eduperson_entitlement": ["urn:mace:egi.eu:group:vo.imagine-ai.eu:role=" + "m" * 102_400 + "#aai.egi.eu"],
        },
        "hostile-chars": {
            "_description": "bidi, controls, zero-width and emoji in every claim",
            "sub": "\u202eevil-subject\u202c\u200b",
            "preferred_username": "ana\u200dtorres",
            "name": "Ana\x1b[2J\x07 Torres\x00",
            "given_name": "Ana\u2028",
            "family_name": "Torres\u2069",
            "email": "🦄.👩🏽‍🔬@example.org",
            "email_verified": True,
            "identity_provider": "An identity provider with a long name " + "é" * 120,
            "realm_access": {"roles": ["access:vo.ai4eosc.eu:ap-0", "access:vo.ai4eosc.eu:ap-u\u200b",
                                       "access:vo.ai4eosc.eu:ap\u202e-u"]},
            "eduperson_entitlement": ["urn:mace:egi.eu:group:vo.ai4life.eu:role=member#aai.egi.eu\x00"],
        },
    }


def claims_of(accounts: dict[str, dict[str, object]], login: str) -> dict[str, object]:
    return {k: v for k, v in accounts[login].items() if not k.startswith("_")}


# ---------------------------------------------------------------------------------------------
# Builds and servers


def build(out: Path, *, issuer: str, cache: Path, extra: Sequence[str] = ()) -> Path:
    """The strict build of the real docs for the demo client of ``issuer``; fails the test if it fails."""
    env = {"ACCESS_CHECKER_OIDC_ISSUER": issuer, "ACCESS_CHECKER_OIDC_CLIENT_ID": DEMO_CLIENT_ID}
    result = sphinx_build(REPO, out, env=env, cache=cache, extra=tuple(extra))
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    return out


def runtime_dir(root: Path) -> Path:
    """The staged Pyodide folder of a built site."""
    found = sorted((root / "_static" / "access-checker").glob("runtime-*"))
    assert len(found) == 1, f"expected one staged runtime in {root}, found {found}"
    return found[0]


def wheel_file(root: Path) -> Path:
    found = sorted((root / "_static" / "access-checker").glob("wheel-*/*.whl"))
    assert len(found) == 1, f"expected one staged wheel in {root}, found {found}"
    return found[0]


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return 200 <= int(response.status) < 300
    except urllib.error.HTTPError as exc:
        return exc.code < 500
    except (OSError, ValueError):
        return False


@contextlib.contextmanager
def serve(root: Path, port: int, *, csp_override: str | None = None, log: Path) -> Iterator[str]:
    """``dev/serve.py`` on ``root``, as ``make serve`` runs it; yields the site URL."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("ACCESS_CHECKER_CSP_OVERRIDE", "PORT", "ISSUER_ORIGIN")}
    if csp_override is not None:
        env["ACCESS_CHECKER_CSP_OVERRIDE"] = csp_override
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, str(SERVER), "--root", str(root), "--port", str(port), "--quiet"],
                                cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 15
        while not ("serving " in log.read_text(errors="replace") and answers(url + "/")):
            assert proc.poll() is None, f"serve.py exited: {log.read_text(errors='replace')[-2000:]}"
            assert time.monotonic() < deadline, f"serve.py not ready: {log.read_text(errors='replace')[-2000:]}"
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def fetch(url: str) -> tuple[int, dict[str, str], str]:
    """Status, headers (lower-case names) and text of a GET, error statuses included."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return int(response.status), {k.lower(): v for k, v in response.headers.items()}, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read().decode(errors="replace")


# ---------------------------------------------------------------------------------------------
# Content-Security-Policy


def directives(policy: str) -> dict[str, list[str]]:
    """A policy as directive name -> source list (names lower-cased, order of sources kept)."""
    parsed: dict[str, list[str]] = {}
    for part in policy.split(";"):
        tokens = part.split()
        if tokens:
            name = tokens[0].lower()
            assert name not in parsed, f"directive {name} twice in {policy!r}"
            parsed[name] = tokens[1:]
    return parsed


META_CSP = re.compile(r'<meta\s+http-equiv="Content-Security-Policy"\s+content="([^"]*)"\s*/?>', re.I)
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.S | re.I)


def meta_policies(html: str) -> list[str]:
    import html as html_module

    return [html_module.unescape(m) for m in META_CSP.findall(html)]


def script_hash(script: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"


# ---------------------------------------------------------------------------------------------
# Watched browser contexts for sites other than the session one


@dataclass
class Watched:
    context: BrowserContext
    watch: Watch
    csp_expected: list[str]
    dialogs: list[str]

    def page(self) -> Page:
        page = self.context.new_page()
        page.on("dialog", self._dialog)
        return page

    def _dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def expect_csp(self, fragment: str) -> None:
        """A test that breaks the CSP on purpose names the violation it causes."""
        self.csp_expected.append(fragment)


@contextlib.contextmanager
def watched_context(browser: Browser, site_urls: Sequence[str], **options: Any) -> Iterator[Watched]:
    """A context watched as conftest's ``context`` fixture watches the session site's pages.

    Fails on exit on requests that left 127.0.0.1 from the sites' pages, console errors and page
    errors (unless named with ``watch.expect_error``), CSP violations (unless named with
    ``expect_csp``) and any JavaScript dialog.
    """
    def on_site(url: str) -> bool:
        return any(url == s or url.startswith(s + "/") for s in site_urls)

    context = browser.new_context(**{"accept_downloads": True, "viewport": {"width": 1280, "height": 900}, **options})
    context.add_init_script(WATCH)
    watched = Watched(context, Watch(), [], [])
    watch = watched.watch

    def route(route: Any) -> None:
        request = route.request
        if request.url.startswith(("data:", "blob:")) or urlsplit(request.url).hostname == "127.0.0.1":
            route.continue_()
            return
        if on_site(request.frame.url):
            watch.outside.append(request.url)
        route.abort()

    context.route("**/*", route)
    context.on("request", lambda r: watch.requests.append(r.url))
    context.on("console", lambda m: watch.errors.append(f"console {m.type}: {m.text}")
               if m.type == "error" and on_site(m.page.url if m.page else "") else None)
    context.on("weberror", lambda e: watch.errors.append(f"page error: {e.error}"))
    try:
        yield watched
        violations: list[str] = []
        for page in context.pages:
            if not page.is_closed() and on_site(page.url):
                violations.extend(page.evaluate("window.__accessCheckerCsp || []"))
    finally:
        context.close()
    assert not watch.outside, f"requests left 127.0.0.1: {watch.outside}"
    unexpected = [v for v in violations if not any(f in v for f in watched.csp_expected)]
    assert not unexpected, f"Content-Security-Policy violations: {unexpected}"
    assert not watch.unexpected_errors(), f"console errors: {watch.unexpected_errors()}"
    assert not watched.dialogs, f"dialogs opened: {watched.dialogs}"


# ---------------------------------------------------------------------------------------------
# The widget, seen from a test


def settle(page: Page) -> str:
    """Wait on ``window.accessChecker.ready``: "ready", or "error" when it rejects."""
    return str(page.evaluate("window.accessChecker.ready.then(() => 'ready', () => 'error')"))


def wait_data(page: Page, name: str, value: str, timeout: float = 30_000) -> None:
    page.wait_for_function("([n, v]) => document.querySelector('[data-access-checker]').dataset[n] === v",
                           arg=[name, value], timeout=timeout)


def wait_new_document(page: Page, url: str, timeout: float = 30) -> None:
    """After ``page.evaluate("window.__left = true")`` and an action that leaves the page: wait
    until a new document at ``url`` has loaded (through any redirects in between)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if page.url.startswith(url) and page.evaluate("!window.__left && document.readyState === 'complete'"):
                return
        except PlaywrightError:  # the context went away mid-navigation
            pass
        page.wait_for_timeout(100)
    raise AssertionError(f"no new document at {url} after {timeout} s (now at {page.url})")


def draft_entries(page: Page) -> dict[str, str]:
    return dict(page.evaluate(
        "Object.fromEntries(Object.entries(localStorage).filter(([k]) => k.startsWith('access-checker:draft:')))"))


def inline_errors(page: Page) -> dict[str, str]:
    """Field name -> the message shown next to it (empty fields left out)."""
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


# Elements or attributes that hostile text could only have created by being parsed as HTML.
DANGER_JS = """() => {
  const root = document.querySelector('[data-access-checker]');
  const all = [...document.querySelectorAll('*')];
  const count = (sel) => root.querySelectorAll(sel).length;
  return {
    img: count('img'), svg: count('svg'), script: count('script'), iframe: count('iframe'),
    object: count('object, embed'), style: count('style'), b: count('b'),
    handlers: all.filter(el => [...el.attributes].some(a => a.name.toLowerCase().startsWith('on')))
                 .map(el => el.tagName),
    javascriptUrls: all.filter(el => ['href', 'src', 'action', 'formaction', 'srcdoc']
                 .some(a => /^\\s*(javascript|data):/i.test(el.getAttribute(a) || ''))).map(el => el.outerHTML.slice(0, 200)),
    added: window.__hostileAdded || [],
  };
}"""

# Records every element added to the page whose tag only markup parsing could have produced.
RECORD_ADDED = """
window.__hostileAdded = [];
document.addEventListener("DOMContentLoaded", () => new MutationObserver((records) => {
  for (const record of records) for (const node of record.addedNodes) {
    if (node.nodeType !== 1) continue;
    for (const el of [node, ...node.querySelectorAll('*')]) {
      if (/^(IMG|SVG|SCRIPT|IFRAME|OBJECT|EMBED|STYLE|BASE|META|B)$/i.test(el.tagName)
          || [...el.attributes].some(a => a.name.toLowerCase().startsWith('on'))) {
        window.__hostileAdded.push(el.outerHTML.slice(0, 200));
      }
    }
  }
}).observe(document, { childList: true, subtree: true }));
"""

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


def axe_run(page: Page, scope: str = "[data-access-checker]") -> dict[str, Any]:
    """Run axe-core (injected through the driver) on ``scope``; violations grouped by impact."""
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate("""async (scope) => {
      const r = await axe.run(document.querySelector(scope), { resultTypes: ['violations'] });
      return r.violations.map(v => ({ id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(' ')),
                                      why: (v.nodes[0].any[0] || v.nodes[0].all[0] || v.nodes[0].none[0] || {}).message || '' }));
    }""", scope)
    by_impact: dict[str, list[str]] = {}
    for violation in result:
        by_impact.setdefault(violation["impact"] or "unknown", []).append(
            f"{violation['id']} {violation['nodes'][:3]} ({violation['why']})")
    return by_impact

