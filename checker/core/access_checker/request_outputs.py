"""What support receives: the ticket text of an upgrade request and a ``mailto:`` link.

Public API
----------
``SUBJECT``
    The fixed subject line, so that support's filters match and no reader text reaches it.
``json_filename(request) -> str``
    The name for the downloaded JSON file, named in the text so support can match the two.
``summary_text(request, policy) -> str``
    Plain text, ``\\n`` line breaks: ``Subject: …`` first, then one labelled line per field,
    the two long answers as indented blocks, the account context, the request id and policy
    version, and a last line about the attached JSON file. Every line a reader's text can
    produce is indented, so a hostile answer cannot pose as another field. Never raises.
``mailto_url(request, policy) -> str``
    ``mailto:<support address>?subject=…&body=…`` with RFC 6068 encoding (UTF-8, everything but
    unreserved characters percent-encoded, line breaks as ``%0D%0A``). The body is the summary
    text when the link fits in ``MAILTO_MAX`` (2,000) characters; otherwise a short body with
    the request id, name, e-mail and projects that asks the reader to attach the JSON file.
    The link never exceeds ``MAILTO_MAX``; ValueError only if the policy's support address is
    too long for any link.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from typing import Final

from access_checker.policy import Policy
from access_checker.request import UpgradeRequest

__all__ = ["MAILTO_MAX", "SUBJECT", "json_filename", "mailto_url", "summary_text"]

SUBJECT: Final = "AI4OS access upgrade request"
MAILTO_MAX: Final = 2000

# Characters that must not reach the text even from a request that skipped validation:
# controls (line breaks are handled by splitting) and bidirectional controls.
_UNSAFE: Final = {
    **{c: 0xFFFD for c in range(0x20) if c not in (0x09, 0x0A)},
    **{c: 0xFFFD for c in range(0x7F, 0xA0)},
    **{c: 0xFFFD for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))},
}


def json_filename(request: UpgradeRequest) -> str:
    return f"ai4os-access-request-{_clean(str(request.id))}.json"


def _clean(text: str) -> str:
    """Text that is safe to show and to encode, even from a request that skipped validation."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: the text could not be sent at all
        text = "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in text)
    return text.translate(_UNSAFE)


def _lines(text: str) -> list[str]:
    # Besides \n, splitlines() breaks at U+2028 and U+2029, which mail clients may also show
    # as new lines; the other line-breaking controls are already replaced by _clean.
    return _clean(text).splitlines() or [""]


def _value(text: object) -> str:
    """A single-line value; should it hold line breaks anyway, the rest is indented."""
    return "\n  ".join(line.rstrip() for line in _lines(str(text)))


def _block(text: object) -> list[str]:
    return [f"  {line}".rstrip() for line in _lines(str(text))]


def _names(ids: Iterable[object], names: dict[str, str]) -> str:
    return ", ".join(names.get(i, i) if isinstance(i, str) else str(i) for i in ids) or "none"


def summary_text(request: UpgradeRequest, policy: Policy) -> str:
    """The plain text support reads in a ticket or e-mail (see the module docstring)."""
    projects = {p.id: p.name for p in policy.projects}
    features = {f.id: f.title for f in policy.features}
    levels = {level.id: level.name for level in policy.levels}
    resources = request.resources
    out = [
        f"Subject: {SUBJECT}",
        "",
        f"Name: {_value(request.name)}",
        f"E-mail: {_value(request.email)}",
        f"Institution: {_value(request.institution)}",
        f"Projects: {_value(_names(request.projects, projects))}",
        f"Features: {_value(_names(request.features, features).replace(', ', '; '))}",
        f"GPUs: {_value(resources.gpus)}",
        f"Storage: {_value(resources.storage_gb)} GB",
        f"Duration: {_value(request.duration_months)} month{'' if request.duration_months == 1 else 's'}",
        f"Heard about the platform from: {_value(request.heard_from)}",
        "Acceptable use policy: "
        + (f"accepted ({policy.support.acceptable_use})" if request.accepted_aup is True else "NOT accepted"),
        "",
        "Why full access is needed:",
        *_block(request.why),
        "",
        "Planned use:",
        *_block(request.planned_use),
        "",
    ]
    account = request.account
    if account is None:
        out.append("Account: not given")
    else:
        source = "from the reader's sign-in" if account.self_reported is False else "self-reported"
        current = "; ".join(
            f"{projects.get(str(p), str(p))}: {levels.get(str(lv), str(lv))}" for p, lv in account.levels
        )
        out += [
            f"Account ({source}):",
            f"  Subject: {_value(account.subject or 'not given')}",
            f"  Issuer: {_value(account.issuer or 'not given')}",
            f"  Identity provider: {_value(account.identity_provider or 'not given')}",
            f"  Current levels: {_value(current or 'not given')}",
        ]
    out += [
        "",
        f"Request id: {_value(request.id)}",
        f"Created: {_value(request.created)}",
        f"Policy version: {_value(request.policy)}",
        "",
        f"The same request as JSON is in the attached file {json_filename(request)}.",
    ]
    return "\n".join(out) + "\n"


def _percent(text: str, safe: str) -> str:
    # urllib.parse is imported on first use: in the browser it took 7.5 and 52 ms in two cold
    # starts (measured), and only a submitted form needs it.
    from urllib.parse import quote

    return quote(text, safe=safe, errors="replace")


def _quote(text: str) -> str:
    return _percent(text.replace("\n", "\r\n"), "")


def _encoded_len(char: str) -> int:
    if char.isascii() and (char.isalnum() or char in "-._~"):
        return 1
    return 3 * len(char.encode("utf-8", "replace")) + (3 if char == "\n" else 0)


def _extends(char: str) -> bool:
    """Whether a character belongs to the one before it (cutting between them breaks it)."""
    code = ord(char)
    return (
        unicodedata.combining(char) != 0
        or code in (0x200C, 0x200D)
        or 0xFE00 <= code <= 0xFE0F
        or 0x1F3FB <= code <= 0x1F3FF
        or 0xE0020 <= code <= 0xE007F
        or 0xE0100 <= code <= 0xE01EF
        or unicodedata.category(char) in ("Mn", "Mc", "Me")
    )


def _shorten(text: str, budget: int) -> str | None:
    """The longest start of ``text`` that, with an ellipsis, fits ``budget`` encoded characters.

    The cut never splits a character from its combining marks, an emoji ZWJ sequence or a
    flag, so the shortened name still reads right.
    """
    ellipsis = "\u2026"
    room = budget - _encoded_len(ellipsis)
    if room < 0:
        return None
    used = end = 0
    for index, char in enumerate(text):
        used += _encoded_len(char)
        if used > room:
            break
        end = index + 1
    while 0 < end < len(text) and (_extends(text[end]) or text[end - 1] == "\u200d"):
        end -= 1
    head = text[:end]
    regional = 0
    for char in reversed(head):
        if 0x1F1E6 <= ord(char) <= 0x1F1FF:
            regional += 1
        else:
            break
    if regional % 2 and end < len(text) and 0x1F1E6 <= ord(text[end]) <= 0x1F1FF:
        head = head[:-1]
    return head.rstrip() + ellipsis


def _fallback_body(request: UpgradeRequest, name: str, email: str | None, projects: str | None) -> str:
    lines = [
        f"Subject: {SUBJECT}",
        "",
        f"Request id: {_value(request.id)}",
        f"Name: {name}",
    ]
    if email is not None:
        lines.append(f"E-mail: {email}")
    if projects is not None:
        lines.append(f"Projects: {projects}")
    lines += [
        "",
        "The full request is too long for a mail link. Before you send this e-mail, attach the "
        f"file {json_filename(request)} that you downloaded.",
    ]
    return "\n".join(lines) + "\n"


def mailto_url(request: UpgradeRequest, policy: Policy) -> str:
    """A ``mailto:`` link to support of at most MAILTO_MAX characters (see the module docstring)."""
    head = f"mailto:{_percent(policy.support.email, '@')}?subject={_quote(SUBJECT)}&body="
    url = head + _quote(summary_text(request, policy))
    if len(url) <= MAILTO_MAX:
        return url
    name = _value(request.name)
    email = _value(request.email)
    names = {p.id: p.name for p in policy.projects}
    # From most to least useful; the last ones only matter for extreme names or policies.
    for with_email, projects in (
        (True, _value(_names(request.projects, names))),
        (True, _value(", ".join(map(str, request.projects)))),
        (False, _value(", ".join(map(str, request.projects)))),
        (False, None),
    ):
        address = email if with_email else None
        url = head + _quote(_fallback_body(request, name, address, projects))
        if len(url) <= MAILTO_MAX:
            return url
        budget = MAILTO_MAX - len(head + _quote(_fallback_body(request, "", address, projects)))
        short = _shorten(name, budget)
        if short is not None:
            url = head + _quote(_fallback_body(request, short, address, projects))
            if len(url) <= MAILTO_MAX:
                return url
    raise ValueError(
        f"no mail link fits in {MAILTO_MAX} characters: the support address or request id is too long"
    )
