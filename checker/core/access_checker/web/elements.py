"""A tiny element tree: what the views build and the DOM adapter renders.

Text is always a text node; there is no way to put HTML in. Event handlers are plain
callables, bound by the adapter.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Handler = Callable[[Any], None]


@dataclass
class El:
    tag: str
    attrs: dict[str, str] = field(default_factory=dict)
    children: list[El | str] = field(default_factory=list)
    on: dict[str, Handler] = field(default_factory=dict)

    def text(self) -> str:
        """The visible text, as a reader (or a test) would read it."""
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def find(self, predicate: Callable[[El], bool]) -> list[El]:
        found = [self] if predicate(self) else []
        for child in self.children:
            if isinstance(child, El):
                found.extend(child.find(predicate))
        return found


def h(tag: str, attrs: dict[str, str] | None = None, *children: El | str | None,
      on: dict[str, Handler] | None = None) -> El:
    """Build an element; ``None`` children are dropped so views can use conditionals inline."""
    return El(tag, dict(attrs or {}), [c for c in children if c is not None], dict(on or {}))
