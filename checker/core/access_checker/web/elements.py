"""A tiny element tree: what the views build, the build writes as HTML and the page patches in.

Text is always text; there is no way to put markup in. Trees carry no event handlers: the
page forwards the reader's events to Python as messages (``session``), so a tree is plain data
that can cross from the worker to the page as JSON, and that the build can write as HTML.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# Elements without content or end tag in HTML.
_VOID = frozenset({"input", "br", "hr", "img", "meta", "link"})


@dataclass
class El:
    tag: str
    attrs: dict[str, str] = field(default_factory=dict)
    children: list[El | str] = field(default_factory=list)

    def text(self) -> str:
        """The visible text, as a reader (or a test) would read it."""
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def find(self, predicate: Callable[[El], bool]) -> list[El]:
        found = [self] if predicate(self) else []
        for child in self.children:
            if isinstance(child, El):
                found.extend(child.find(predicate))
        return found

    def to_json(self) -> dict[str, Any]:
        """The shape the page's renderer takes (``render.mjs``): ``{t, a, c}``."""
        return {"t": self.tag, "a": self.attrs, "c": [c if isinstance(c, str) else c.to_json() for c in self.children]}

    def to_html(self) -> str:
        # Imported here: only the build writes HTML (the worker sends trees), and html loads
        # html.entities, 97 KB of bytecode that the browser's stdlib would otherwise ship.
        from html import escape

        attrs = "".join(f' {name}="{escape(value, quote=True)}"' if value else f" {name}"
                        for name, value in self.attrs.items())
        if self.tag in _VOID:
            return f"<{self.tag}{attrs}>"
        inner = "".join(escape(c, quote=False) if isinstance(c, str) else c.to_html() for c in self.children)
        return f"<{self.tag}{attrs}>{inner}</{self.tag}>"


def h(tag: str, attrs: dict[str, str] | None = None, *children: El | str | None) -> El:
    """Build an element; ``None`` children are dropped so views can use conditionals inline."""
    return El(tag, dict(attrs or {}), [c for c in children if c is not None])
