"""Reading the form as a reader types it: each answer's reader made once per fields table.

Text is normalised first (:func:`access_checker.text.normalise`), numbers arrive as the
strings of HTML inputs, a checkbox as a bool or ``"on"``; each input gets at most one message,
keyed by its name (``group.field`` in a group). Fields the form does not know are ignored.

The form is read on every key stroke, so the table is not interpreted each time: a reader
per answer, with its input's name, bounds, choices and messages bound in, is made once per
table (:mod:`~access_checker.request.prepared`), and it gives the value in the record's own
shape, so that a valid form becomes a record without another pass.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Final

from access_checker.request.fields import Field, answer_fields
from access_checker.request.prepared import for_the_last
from access_checker.request.text_checks import count, text_check
from access_checker.text import STRIP, LazyPattern, normalise

Reader = Callable[[Mapping[str, object], dict[str, str]], object]
"""Reads one answer from the form; records its message under its path; returns the value as
the record holds it (choices as a tuple, a group as its record)."""

_CHECKED: Final = frozenset({"on", "true", "yes", "1"})
_DIGITS: Final = LazyPattern("[0-9]{1,12}")


def json_int(value: object) -> int | None:
    """The integer a JSON number stands for, as JSON Schema sees it (2.0 is 2; true is not 1)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def in_order(chosen: Sequence[object], order: Sequence[str]) -> list[str]:
    return [i for i in order if i in chosen]


def _text(f: Field, path: str) -> Reader:
    check = text_check(f)
    multiline = check.multiline

    def read(form: Mapping[str, object], errors: dict[str, str]) -> object:
        raw = form.get(path)
        text = normalise(raw, multiline) if isinstance(raw, str) else ""
        message = check.problem(text, canonical=False)
        if message is not None:
            errors[path] = message
        return text
    return read


def _integer(f: Field, path: str) -> Reader:
    low, high = f.minimum, f.maximum
    message = f"Enter a whole number from {low} to {count(high)}."

    def read(form: Mapping[str, object], errors: dict[str, str]) -> object:
        raw = form.get(path)
        number: int | None = None
        if isinstance(raw, str):
            digits = raw.strip(STRIP)
            if _DIGITS.fullmatch(digits):
                number = int(digits)
        else:
            number = json_int(raw)  # a UI may hand over numbers instead of the inputs' strings
        if number is None or not low <= number <= high:
            errors[path] = message
            return low
        return number
    return read


def _choices(f: Field, path: str) -> Reader:
    known = [c.value for c in f.choices]
    unknown = f"Choose {f.noun}s from the list; reload the page if it is out of date."
    none = f"Choose at least one {f.noun}."

    def read(form: Mapping[str, object], errors: dict[str, str]) -> object:
        raw = form.get(path)
        items: list[object] = [raw] if isinstance(raw, str) and raw else []
        if isinstance(raw, (list, tuple, set, frozenset)):
            items = list(raw)
        chosen = [item for item in items if isinstance(item, str) and item in known]
        if len(chosen) < len(items):
            errors[path] = unknown
        elif not chosen:
            errors[path] = none
        # Checkboxes cannot repeat a value, so a repeat is a quirk of the caller, not the reader's.
        return tuple(in_order(chosen, known))
    return read


def _accept(f: Field, path: str) -> Reader:
    missing = f.missing

    def read(form: Mapping[str, object], errors: dict[str, str]) -> object:
        raw = form.get(path)
        if not (raw is True or (isinstance(raw, str) and raw.strip().lower() in _CHECKED)):
            errors[path] = missing
        return True
    return read


def _group(f: Field) -> Reader:
    """A group's inputs (``group.field``), read into the group's record."""
    readers = [_READERS[c.kind](c, path) for path, c in answer_fields((f,))]
    record = f.record
    if record is None:
        raise ValueError(f"the group of answers {f.name!r} needs a record (Field.record) to hold them")
    # Positional: a test holds each record's attributes in its table's order.
    return lambda form, errors: record(*[read(form, errors) for read in readers])


_READERS: Final[dict[str, Callable[[Field, str], Reader]]] = {
    "line": _text, "email": _text, "paragraphs": _text, "integer": _integer, "choices": _choices, "accept": _accept,
}


@for_the_last
def _readers(fields: tuple[Field, ...]) -> tuple[tuple[str, Reader], ...]:
    """(name, reader) of each of the table's answers, in form order."""
    return tuple((f.name, _group(f) if f.kind == "object" else _READERS[f.kind](f, f.name))
                 for f in fields if f.role == "answer")


def read_form(form: Mapping[str, object], fields: tuple[Field, ...]) -> tuple[dict[str, str], dict[str, object]]:
    """The form's messages by input name, and the answers by field name, valued as the
    record holds them."""
    errors: dict[str, str] = {}
    return errors, {name: read(form, errors) for name, read in _readers(fields)}
