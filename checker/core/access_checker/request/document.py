"""The two shapes of a request's values: the canonical JSON document and the typed record.

The document has the table's keys in the table's order, ids in policy order, 2-space indent,
``ensure_ascii=False`` and a final newline. Both conversions read :data:`~access_checker.
request.fields.FIELDS`, so a field added there appears in both.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, cast

from access_checker.request.fields import FIELDS, Field, member
from access_checker.request.model import UpgradeRequest
from access_checker.request.prepared import for_the_last


def _pairs(value: object) -> list[tuple[object, object]]:
    if isinstance(value, Mapping):
        return list(value.items())
    return [pair for pair in value if isinstance(pair, tuple) and len(pair) == 2] if isinstance(value, tuple) else []


def plain(f: Field, value: object) -> object:
    """A field's value as JSON data (lists and objects), from a document's or a record's value."""
    if f.kind == "constant":
        return f.value
    if value is None:
        return None
    if f.kind == "choices" and isinstance(value, (list, tuple)):
        return list(value)
    if f.kind == "project-levels":
        return dict(_pairs(value))
    if f.kind == "object":
        return {c.name: plain(c, member(value, c.name)) for c in f.children}
    return value


def document_of(values: object, fields: tuple[Field, ...] = FIELDS) -> dict[str, object]:
    """The canonical document (a plain dict, keys in table order) of a record or of checked values."""
    return {f.name: plain(f, member(values, f.name)) for f in fields}


def typed(f: Field, value: object) -> object:
    """A field's value as it is in the record (tuples, nested records), from checked values."""
    if value is None:
        return None
    if f.kind == "choices" and isinstance(value, list):
        return tuple(value)
    if f.kind == "project-levels":
        return tuple(_pairs(value))
    if f.kind == "object" and f.record is not None and isinstance(value, Mapping):
        return f.record(**{c.name: typed(c, value.get(c.name, c.default)) for c in f.children})
    return value


_CONVERTED_KINDS = frozenset({"choices", "project-levels", "object"})  # the kinds typed() changes


def converted(f: Field) -> bool:
    """Whether typed() changes this field's values (lists become tuples, objects records)."""
    return f.kind in _CONVERTED_KINDS


@for_the_last
def _record_fields(fields: tuple[Field, ...]) -> tuple[tuple[tuple[str, Field | None], ...], bool]:
    """(name, field when typed() changes its values) of the record's fields, and whether they
    are the record's own fields in its order (a valid form makes a record on every key stroke)."""
    plan = tuple((f.name, f if converted(f) else None) for f in fields if f.kind != "constant")
    return plan, tuple(name for name, _ in plan) == UpgradeRequest._fields


def record_of(values: Mapping[str, object], fields: tuple[Field, ...] = FIELDS, *,
              typed_already: bool = False) -> UpgradeRequest:
    """The record of checked values (constants are not part of it); ``typed_already`` when the
    values are already in the record's shape (as the form reads them)."""
    plan, in_order = _record_fields(fields)
    if typed_already:
        items = [values.get(name) for name, _ in plan]
    else:
        items = [values.get(name) if f is None else typed(f, values.get(name)) for name, f in plan]
    if in_order:
        return UpgradeRequest._make(items)
    return UpgradeRequest(**cast(dict[str, Any], {name: item for (name, _), item in zip(plan, items, strict=True)}))


def to_document(request: UpgradeRequest) -> dict[str, object]:
    """The canonical JSON document (a plain dict, keys in model order)."""
    return document_of(request)


def to_json(request: UpgradeRequest) -> str:
    """The canonical JSON text: UTF-8 friendly (not ASCII-escaped), 2-space indent, final newline."""
    return json.dumps(to_document(request), ensure_ascii=False, indent=2) + "\n"
