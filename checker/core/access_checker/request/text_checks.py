"""A text field's checks, shared by documents and the form, prepared once per field.

The form is checked on every key stroke, so each field's patterns are compiled and its
messages chosen once per field (:mod:`~access_checker.request.prepared`).
"""

from __future__ import annotations

import re

from access_checker.request.fields import Field
from access_checker.request.prepared import per_object
from access_checker.text import EDGE_SPACE, LazyPattern, rejection

_patterns: dict[str, LazyPattern] = {}


def pattern(source: str) -> LazyPattern:
    """A field rule's pattern, compiled on first use and kept."""
    compiled = _patterns.get(source)
    if compiled is None:
        compiled = _patterns[source] = LazyPattern(source)
    return compiled


def matches(source: str, text: str) -> bool:
    """Whether ``source`` matches somewhere in ``text``, as a JSON Schema ``pattern`` does."""
    return pattern(source).search(text) is not None


def count(n: int) -> str:
    return f"{n:,}"


class TextCheck:
    """One text field's checks: lengths in code points, its kind's refused characters, its rules."""

    __slots__ = ("maximum", "minimum", "missing", "multiline", "rules")

    def __init__(self, f: Field) -> None:
        self.multiline = f.kind == "paragraphs"
        self.minimum, self.maximum = f.minimum, f.maximum
        self.missing = f.missing or "Must not be empty."
        self.rules: tuple[tuple[re.Pattern[str], str], ...] = tuple(
            (pattern(source).compiled(), message) for source, message in f.rules)

    def problem(self, text: str, *, canonical: bool) -> str | None:
        """Checks a text; ``canonical`` texts (documents) must also be trimmed already."""
        problem = rejection(text, self.multiline)
        if problem is not None:
            return problem
        if not text:
            return self.missing
        if canonical and (text[0] in EDGE_SPACE or text[-1] in EDGE_SPACE):
            return "Remove the spaces or line breaks at the start and end."
        if len(text) < self.minimum:
            return f"Write at least {count(self.minimum)} characters (now {count(len(text))})."
        if len(text) > self.maximum:
            return f"Shorten this to at most {count(self.maximum)} characters (now {count(len(text))})."
        for compiled, message in self.rules:
            if compiled.search(text) is None:
                return message
        return None


@per_object
def text_check(f: Field) -> TextCheck:
    return TextCheck(f)


def text_problem(text: str, f: Field, *, canonical: bool) -> str | None:
    return text_check(f).problem(text, canonical=canonical)
