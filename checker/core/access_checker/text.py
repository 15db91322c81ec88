"""Untrusted text: what a reader types and what a provider sends. One module, one set of rules.

Each way of handling such text has one function here, each for its own purpose:

``normalise(text, multiline)``
    What the form keeps of what was typed: Unicode NFC, ``\\r\\n`` as ``\\n`` in several-line
    fields, then no spaces or line breaks at either end (the characters in ``STRIP``).
``rejection(text, multiline)``
    Why a text cannot go into a request, in words a reader can act on; None when it can.
    Rejected: C0 controls and DEL/C1 (tab and line feed are allowed in several-line text), the
    bidirectional embedding, override and isolate controls (they can make text display
    misleadingly), the line and paragraph separators (mail clients may show them as line
    breaks) and lone surrogates (they cannot be written as UTF-8). ZWJ and ZWNJ are allowed:
    some scripts and emoji need them.
``display(text, *, multiline=False, limit=None)``
    Lossy, for plain text that someone reads (the ticket text, the page): every character
    that ``rejection`` refuses becomes U+FFFD, and a ``limit`` cuts the text to that many code
    points, the last one an ellipsis. ``tests/unit/vectors/text.json`` holds its cases. (The
    page shows no untrusted text of its own: every word of the booted widget comes from the
    Python views, so this is the only copy.)
``escaped(value, limit)``
    Faithful, for evidence support compares with a token: each character without a visible
    glyph of its own (Unicode category C) is shown as a ``\\uXXXX`` escape.
``quoted(value)``
    A value inside a message: at most 40 characters of a string, as an ASCII-only JSON string,
    so that a hostile value cannot restyle the message.

The character classes are written once, as regex source that means the same in Python's
``re`` and in ECMA-262 with the ``u`` flag (what JSON Schema validators use): only ``\\uXXXX``
escapes, no ``\\s`` (the two dialects disagree on it) and no lookaround (RE2 lacks it). The
request's validator and its JSON Schema are built from these same strings.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Final

__all__ = [
    "LINE_PATTERN",
    "PARAGRAPHS_PATTERN",
    "STRIP",
    "LazyPattern",
    "display",
    "escaped",
    "normalise",
    "quoted",
    "rejection",
]

CONTROLS: Final = r"\u0000-\u001f\u007f-\u009f"
CONTROLS_BUT_TAB_LF: Final = r"\u0000-\u0008\u000b-\u001f\u007f-\u009f"
BIDI: Final = r"\u202a-\u202e\u2066-\u2069"
SEPARATORS: Final = r"\u2028\u2029"
SURROGATES: Final = r"\ud800-\udfff"
# The white space that is not also a control or separator (those are rejected instead).
SPACES: Final = r"\u0020\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000"

LINE_BAD: Final = CONTROLS + BIDI + SEPARATORS + SURROGATES
PARAGRAPHS_BAD: Final = CONTROLS_BUT_TAB_LF + BIDI + SEPARATORS + SURROGATES
# What may not start or end a text: anything rejected, tab and line feed, and spaces.
EDGE_BAD: Final = LINE_BAD + SPACES

# A whole text that passes `rejection` and is trimmed, for JSON Schema.
LINE_PATTERN: Final = f"^[^{EDGE_BAD}](?:[^{LINE_BAD}]*[^{EDGE_BAD}])?$"
PARAGRAPHS_PATTERN: Final = f"^[^{EDGE_BAD}](?:[^{PARAGRAPHS_BAD}]*[^{EDGE_BAD}])?$"

# What `normalise` strips from both ends: the spaces, tabs and line breaks a reader can type.
# The other characters Python calls white space (U+000B, U+000C, U+001C-U+001F, U+0085,
# U+2028, U+2029) are rejected with a message instead of vanishing silently.
STRIP: Final = (
    " \t\n\r\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u202f\u205f\u3000"
)
EDGE_SPACE: Final = frozenset(STRIP)


class LazyPattern:
    """A regular expression compiled on first use.

    In the browser, compiling the large Unicode patterns at import costs tens of milliseconds
    on the way to the checker's first screen, before anyone types anything.
    """

    __slots__ = ("_compiled", "source")

    def __init__(self, source: str) -> None:
        self.source = source
        self._compiled: re.Pattern[str] | None = None

    def compiled(self) -> re.Pattern[str]:
        if self._compiled is None:
            self._compiled = re.compile(self.source)
        return self._compiled

    def fullmatch(self, text: str) -> re.Match[str] | None:
        return (self._compiled or self.compiled()).fullmatch(text)

    def search(self, text: str) -> re.Match[str] | None:
        return (self._compiled or self.compiled()).search(text)

    def sub(self, replacement: str, text: str) -> str:
        return self.compiled().sub(replacement, text)


_LINE_BAD_RE: Final = LazyPattern(f"[{LINE_BAD}]")
_PARAGRAPHS_BAD_RE: Final = LazyPattern(f"[{PARAGRAPHS_BAD}]")


def normalise(text: str, multiline: bool) -> str:
    if multiline:
        text = text.replace("\r\n", "\n")
    return unicodedata.normalize("NFC", text).strip(STRIP)


def rejection(text: str, multiline: bool) -> str | None:
    """The message for the first character a field of this kind refuses, or None."""
    if text.isascii() and text.isprintable():
        return None  # both kinds refuse only control and non-ASCII characters: skip the search
    found = (_PARAGRAPHS_BAD_RE if multiline else _LINE_BAD_RE).search(text)
    if found is None:
        return None
    char = found.group()
    code = ord(char)
    where = f"at position {found.start() + 1}"
    if 0xD800 <= code <= 0xDFFF:
        return f"Remove the broken character {where}: it is half of a character pair and cannot be sent."
    if 0x202A <= code <= 0x202E or 0x2066 <= code <= 0x2069:
        return (
            f"Remove the hidden text-direction character (U+{code:04X}) {where}: "
            "it can make text display misleadingly."
        )
    if not multiline and char in "\n\r\u2028\u2029":
        return f"Keep this on one line: remove the line break {where}."
    if char in "\u2028\u2029":
        return f"Replace the line or paragraph separator (U+{code:04X}) {where} with an ordinary line break."
    if char == "\t":
        return f"Remove the tab {where}, or use a space instead."
    return f"Remove the invisible control character (U+{code:04X}) {where}."


def display(text: str, *, multiline: bool = False, limit: int | None = None) -> str:
    """The text with each character ``rejection`` refuses as U+FFFD, cut to ``limit`` code points."""
    shown = (_PARAGRAPHS_BAD_RE if multiline else _LINE_BAD_RE).sub("\ufffd", text)
    if limit is not None and len(shown) > limit:
        shown = shown[: limit - 1] + "…"
    return shown


def escaped(value: object, limit: int = 80) -> str:
    """A short rendering of an untrusted value in which every invisible character shows."""
    text = value if isinstance(value, str) else repr(value)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    # Controls and bidi overrides would garble or disguise a list; show them as escapes.
    return "".join(ch if unicodedata.category(ch)[0] != "C" else f"\\u{ord(ch):04x}" for ch in text)


def quoted(value: object) -> str:
    """A value for a message: short and escaped, so a hostile value cannot restyle the message."""
    if isinstance(value, str):
        return json.dumps(value[:40] + ("..." if len(value) > 40 else ""), ensure_ascii=True)
    if value is None or isinstance(value, (bool, float)):
        return json.dumps(value)
    if isinstance(value, int):
        return str(value) if -10**40 < value < 10**40 else "(a very large number)"
    if isinstance(value, list):
        return "(a list)"
    if isinstance(value, dict):
        return "(an object)"
    return f"({type(value).__name__})"
