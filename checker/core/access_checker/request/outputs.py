"""What support receives: the ticket text of an upgrade request and a ``mailto:`` link.

The ticket text is derived from the fields table: ``Subject: …`` first, then one labelled line
per answer, the several-line answers as indented blocks, the account context, the stamps (id,
time, policy version), and a last line about the attached JSON file. Every line a reader's
text can produce is indented, so a hostile answer cannot pose as another field; the texts go
through :func:`access_checker.text.display`, so even a request that skipped validation cannot
break the layout. It never raises.

``mailto_url`` gives ``mailto:<support address>?subject=…&body=…`` with RFC 6068 encoding
(UTF-8, everything but unreserved characters percent-encoded, line breaks as ``%0D%0A``). The
body is the ticket text when the link fits in ``MAILTO_MAX`` (2,000) characters; otherwise a
short body with the request id, name, e-mail and projects that asks the reader to attach the
JSON file. The link never exceeds ``MAILTO_MAX``; ValueError only if the policy's support
address is too long for any link.
"""

import unicodedata
from collections.abc import Mapping
from typing import Final, NamedTuple

from access_checker.policy import Policy
from access_checker.request.fields import Field, context_field, fields_for, member
from access_checker.request.model import Account, UpgradeRequest
from access_checker.text import display

__all__ = ["MAILTO_MAX", "SUBJECT", "Mailto", "context_rows", "describe", "json_filename", "mailto_url",
           "summary_text", "ticket_text"]

SUBJECT: Final = "AI4OS access upgrade request"
MAILTO_MAX: Final = 2000


class Mailto(NamedTuple):
    """A ``mailto:`` link; ``shortened`` when its body asks the reader to attach the JSON file."""

    url: str
    shortened: bool


def _filename(request_id: object) -> str:
    return f"ai4os-access-request-{display(str(request_id))}.json"


def json_filename(request: UpgradeRequest) -> str:
    """The name for the downloaded JSON file, named in the text so support can match the two."""
    return _filename(request.id)


def _lines(text: str) -> list[str]:
    # Mail clients may show the line and paragraph separators as new lines too.
    return display(text.translate({0x2028: "\n", 0x2029: "\n"}), multiline=True).splitlines() or [""]


def _value(text: object) -> str:
    """A single-line value; should it hold line breaks anyway, the rest is indented."""
    return "\n  ".join(line.rstrip() for line in _lines(str(text)))


def _block(text: object) -> list[str]:
    return [f"  {line}".rstrip() for line in _lines(str(text))]


def describe(f: Field, value: object) -> str:
    """A field's value in words, as support and the page show it."""
    if f.kind == "choices":
        names = {c.value: c.label for c in f.choices}
        ids = value if isinstance(value, (list, tuple)) else () if value is None else (value,)
        return f.separator.join(names.get(i, i) if isinstance(i, str) else str(i) for i in ids) or "none"
    if f.kind == "project-levels":
        projects, levels = {k.value: k.label for k in f.keys}, {c.value: c.label for c in f.choices}
        pairs = value.items() if isinstance(value, Mapping) else value if isinstance(value, (list, tuple)) else ()
        return "; ".join(f"{projects.get(str(p), str(p))}: {levels.get(str(lv), str(lv))}" for p, lv in pairs)
    if f.kind == "accept":
        return f"accepted ({f.link})" if value is True else "NOT accepted"
    if f.kind == "boolean":  # anything but false is the first (the cautious) reading
        return f.shown[1] if value is False else f.shown[0]
    if f.unit[0]:
        return f"{value} {f.unit[0] if value == 1 else f.unit[1]}"
    return str(value)


def _given(f: Field, value: object) -> str:
    """A value in words, or "" when there is none (no value, nothing listed)."""
    return describe(f, value) if value else ""


def _line(f: Field, value: object) -> str:
    return f"{f.ticket}: {_value(describe(f, value))}"


def _section(f: Field, value: object) -> list[str]:
    if value is None:
        return [f"{f.ticket}: not given"]
    flags = [describe(c, member(value, c.name)) for c in f.children if c.kind == "boolean"]
    head = f"{f.ticket} ({', '.join(flags)}):" if flags else f"{f.ticket}:"
    return [head, *(f"  {c.ticket}: {_value(_given(c, member(value, c.name)) or 'not given')}"
                    for c in f.children if c.ticket)]


def ticket_text(values: object, fields: tuple[Field, ...]) -> str:
    """The text support reads, for a request record or checked values (see the module docstring)."""
    answers: list[str] = []
    essays: list[str] = []
    context: list[str] = []
    stamps: list[str] = []
    for f in fields:
        value = member(values, f.name)
        if f.role == "answer" and f.kind == "paragraphs":
            essays += [f"{f.ticket}:", *_block(value), ""]
        elif f.role == "answer" and f.kind == "object":
            answers += [_line(c, member(value, c.name)) for c in f.children if c.ticket]
        elif f.role == "context" and f.ticket:
            context += _section(f, value)
        elif f.ticket:
            (answers if f.role == "answer" else stamps).append(_line(f, value))
    out = [f"Subject: {SUBJECT}", "", *answers, "", *essays, *context, "", *stamps, "",
           f"The same request as JSON is in the attached file {_filename(member(values, 'id'))}."]
    return "\n".join(out) + "\n"


def summary_text(request: UpgradeRequest, policy: Policy) -> str:
    """The plain text support reads in a ticket or e-mail (see the module docstring)."""
    return ticket_text(request, fields_for(policy))


def context_rows(account: Account, policy: Policy) -> list[tuple[str, str]]:
    """(label, value in words or "") of each part of an account context the page shows."""
    f = context_field(fields_for(policy))
    return [(c.label, _given(c, member(account, c.name))) for c in f.children if c.label]


# ---------------------------------------------------------------------------------------------
# mailto


# Unreserved characters (RFC 3986): the bytes percent-encoding leaves as they are.
_UNRESERVED: Final = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def _percent(text: str, safe: str) -> str:
    # urllib.parse.quote(text, safe, errors="replace"), written out: urllib.parse and the
    # ipaddress module it loads are large, and the browser's trimmed standard library would
    # ship them for this alone (tests/unit/test_request_properties.py compares the two).
    keep = _UNRESERVED.union(safe.encode("ascii"))
    return "".join(chr(byte) if byte in keep else f"%{byte:02X}" for byte in text.encode("utf-8", "replace"))


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


def _short_body(request: UpgradeRequest, labels: dict[str, str], name: str, email: str | None,
                projects: str | None) -> str:
    """The body that asks for the JSON file, naming the request, the reader and the projects."""
    lines = [f"Subject: {SUBJECT}", "", f"{labels['id']}: {_value(request.id)}", f"{labels['name']}: {name}"]
    if email is not None:
        lines.append(f"{labels['email']}: {email}")
    if projects is not None:
        lines.append(f"{labels['projects']}: {projects}")
    lines += [
        "",
        "The full request is too long for a mail link. Before you send this e-mail, attach the "
        f"file {json_filename(request)} that you downloaded.",
    ]
    return "\n".join(lines) + "\n"


def mailto_url(request: UpgradeRequest, policy: Policy) -> Mailto:
    """A ``mailto:`` link to support of at most MAILTO_MAX characters (see the module docstring)."""
    fields = fields_for(policy)
    head = f"mailto:{_percent(policy.support.email, '@')}?subject={_quote(SUBJECT)}&body="
    url = head + _quote(ticket_text(request, fields))
    if len(url) <= MAILTO_MAX:
        return Mailto(url, shortened=False)
    labels = {f.name: f.ticket for f in fields}
    projects = next(f for f in fields if f.name == "projects")
    name, email = _value(request.name), _value(request.email)
    # From most to least useful; the last ones only matter for extreme names or policies.
    for with_email, shown in (
        (True, _value(describe(projects, request.projects))),
        (True, _value(", ".join(map(str, request.projects)))),
        (False, _value(", ".join(map(str, request.projects)))),
        (False, None),
    ):
        address = email if with_email else None
        url = head + _quote(_short_body(request, labels, name, address, shown))
        if len(url) <= MAILTO_MAX:
            return Mailto(url, shortened=True)
        budget = MAILTO_MAX - len(head + _quote(_short_body(request, labels, "", address, shown)))
        short = _shorten(name, budget)
        if short is not None:
            url = head + _quote(_short_body(request, labels, short, address, shown))
            if len(url) <= MAILTO_MAX:
                return Mailto(url, shortened=True)
    raise ValueError(
        f"no mail link fits in {MAILTO_MAX} characters: the support address or request id is too long"
    )
