"""Untrusted text: normalising, rejecting, displaying, escaping and quoting (access_checker.text).

``display`` passes the cases of vectors/text.json (what the page shows of a provider's names
goes through it, in the worker).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from access_checker import text
from access_checker.text import display, escaped, normalise, quoted, rejection

VECTORS: dict[str, Any] = json.loads((Path(__file__).parent / "vectors" / "text.json").read_text(encoding="utf-8"))
CASES: list[dict[str, Any]] = VECTORS["display"]


@pytest.mark.parametrize("case", CASES, ids=[c["why"] for c in CASES])
def test_display_passes_the_shared_cases(case: dict[str, Any]) -> None:
    assert display(case["text"], multiline=case.get("multiline", False), limit=case.get("limit")) == case["shown"]


def _ranges(character_class: str) -> list[tuple[int, int]]:
    return [(int(lo, 16), int(hi or lo, 16)) for lo, hi in re.findall(r"\\u([0-9a-f]{4})(?:-\\u([0-9a-f]{4}))?", character_class)]


@pytest.mark.parametrize(("multiline", "character_class"), [(False, text.LINE_BAD), (True, text.PARAGRAPHS_BAD)])
def test_the_shared_cases_cover_both_sides_of_every_range(multiline: bool, character_class: str) -> None:
    """Should the classes change, the JavaScript twin is tested at the new edges too."""
    tried = {ord(ch) for case in CASES if case.get("multiline", False) == multiline for ch in case["text"]}
    edges = {p for lo, hi in _ranges(character_class) for p in (lo - 1, lo, hi, hi + 1) if p >= 0}
    assert edges - tried == set()


def test_display_refuses_what_a_field_of_that_kind_rejects() -> None:
    for code in [*range(0x3000), *range(0xD7F0, 0xE010)]:
        char = chr(code)
        for multiline in (False, True):
            refused = rejection(f"a{char}b", multiline) is not None
            assert (display(char, multiline=multiline) == "\ufffd") == refused, (hex(code), multiline)


def test_normalise() -> None:
    assert normalise("  Jose\u0301\u3000", False) == "José"
    assert normalise("\r\n  a\r\nb  \n\n", True) == "a\nb"
    assert normalise("a\r\nb", False) == "a\r\nb"  # one line: the line break is for rejection to report
    assert normalise("\x0bA\x85", False) == "\x0bA\x85"  # rejected, not silently removed


@pytest.mark.parametrize(("value", "multiline", "message"), [
    ("Ada\x00", False, "Remove the invisible control character (U+0000) at position 4."),
    ("Ada\u202e", False, "Remove the hidden text-direction character (U+202E) at position 4: it can make text display misleadingly."),
    ("Ada\nB", False, "Keep this on one line: remove the line break at position 4."),
    ("Ada\u2028B", True, "Replace the line or paragraph separator (U+2028) at position 4 with an ordinary line break."),
    ("Ada\tB", False, "Remove the tab at position 4, or use a space instead."),
    ("Ada\ud800", True, "Remove the broken character at position 4: it is half of a character pair and cannot be sent."),
    ("Ada\tB\nC", True, None),
    ("👩\u200d🔬", False, None),
])
def test_rejection_messages(value: str, multiline: bool, message: str | None) -> None:
    assert rejection(value, multiline) == message


def test_escaped_shows_every_invisible_character() -> None:
    assert escaped("a\u202eb\x00c\u200bd") == "a\\u202eb\\u0000c\\u200bd"
    assert escaped("<img src=x>") == "<img src=x>"
    assert escaped(["x"]) == "['x']"
    assert escaped("x" * 100) == "x" * 79 + "…"
    assert escaped("x" * 100, 10) == "x" * 9 + "…"


def test_quoted_values_cannot_restyle_a_message() -> None:
    assert quoted("ai4eosc") == '"ai4eosc"'
    assert quoted("é\u202e\n") == '"\\u00e9\\u202e\\n"'
    assert quoted("x" * 50) == '"' + "x" * 40 + '..."'
    assert [quoted(v) for v in (None, True, 2.5, 7, 10**50, [1], {"a": 1}, (1,))] == [
        "null", "true", "2.5", "7", "(a very large number)", "(a list)", "(an object)", "(tuple)"]


def test_patterns_compile_on_first_use() -> None:
    pattern = text.LazyPattern("[ab]")
    assert pattern._compiled is None
    assert pattern.sub("-", "cab") == "c--" and pattern._compiled is not None


@pytest.mark.parametrize("multiline", [False, True])
def test_printable_ascii_is_never_refused(multiline: bool) -> None:
    """rejection() skips its search for printable ASCII text: no kind refuses any of it."""
    bad = re.compile(f"[{text.PARAGRAPHS_BAD if multiline else text.LINE_BAD}]")
    printable = [chr(code) for code in range(128) if chr(code).isprintable()]
    assert len(printable) == 95 and not [c for c in printable if bad.search(c)]
    assert rejection("".join(printable), multiline) is None
    assert rejection("Ada\x7f", multiline) is not None  # DEL: ASCII, not printable, refused
