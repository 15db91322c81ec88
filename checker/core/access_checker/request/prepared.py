"""Work done once per policy, fields table or field, not again on every key stroke.

The form is checked as the reader types, always with the same policy, so the same fields
table and the same fields: what is derived from them (the filled-in table, each input's
reader, compiled patterns) is kept, keyed by the identity of what it was derived from.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")

_PER_OBJECT_MAX = 256  # the fields of earlier policies' tables are let go past this many


def for_the_last(build: Callable[[K], V]) -> Callable[[K], V]:
    """``build``, run again only when called with another object than the last time."""
    last: list[tuple[K, V]] = []

    @functools.wraps(build)
    def kept(key: K) -> V:
        if not last or last[0][0] is not key:
            last[:] = [(key, build(key))]
        return last[0][1]
    return kept


def per_object(build: Callable[[K], V]) -> Callable[[K], V]:
    """``build``, run once for each object it is called with (the object is kept alive with
    the result, so that its id cannot be reused meanwhile)."""
    kept: dict[int, tuple[K, V]] = {}

    @functools.wraps(build)
    def get(key: K) -> V:
        entry = kept.get(id(key))
        if entry is None or entry[0] is not key:
            if len(kept) >= _PER_OBJECT_MAX:
                kept.clear()
            entry = kept[id(key)] = (key, build(key))
        return entry[1]
    return get
