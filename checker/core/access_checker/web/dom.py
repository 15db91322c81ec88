"""Renders element trees into the page through Pyodide's ``js`` module.

Text becomes text nodes and attributes go through ``setAttribute``: nothing a reader types or
a provider sends is ever parsed as HTML.
"""

from __future__ import annotations

from typing import Any

from access_checker.web.elements import El


class Renderer:
    """Keeps the event proxies it creates, so that a re-render can release the old ones."""

    def __init__(self) -> None:
        # Looked up once, not per element: each ``from js import document`` goes into
        # JavaScript and makes a new proxy (a profile of a signed-in screen, 150 elements, put
        # ~7 ms in these lookups). Imported here because ``js`` exists only inside Pyodide.
        from js import document
        from pyodide.ffi import create_proxy

        self._document = document
        self._create_proxy = create_proxy
        self._proxies: list[Any] = []

    def render(self, el: El) -> Any:
        document = self._document
        node = document.createElement(el.tag)
        for name, value in el.attrs.items():
            node.setAttribute(name, value)
        for child in el.children:
            node.appendChild(document.createTextNode(child) if isinstance(child, str) else self.render(child))
        for event, handler in el.on.items():
            proxy = self._create_proxy(handler)
            self._proxies.append(proxy)
            node.addEventListener(event, proxy)
        return node

    def replace_children(self, parent: Any, *els: El) -> None:
        self.release()
        parent.replaceChildren(*[self.render(el) for el in els])

    def release(self) -> None:
        for proxy in self._proxies:
            proxy.destroy()
        self._proxies.clear()
