"""Hostile text for the hardening tests: the corpus, hostile demo accounts, and the page-side
probes that tell text shown as text from text parsed as markup."""

from __future__ import annotations

from dataclasses import dataclass

from access_checker.text import normalise


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
    """What the form keeps of a text: the core's own normalisation (unit-tested on its own)."""
    return normalise(text, multiline)


def essay(text: str) -> str:
    """The same text, made long enough (20 characters) for the two essay fields."""
    return text if len(nfc_trim(text, multiline=True)) >= 20 else f"{text} — long enough to count as a reason"



# Hostile demo accounts: every claim a provider sends, filled with the corpus.
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
