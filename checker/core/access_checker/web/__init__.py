"""The browser adapter: the only code that touches ``js``/``pyodide``, and only in functions.

``elements``, ``views`` and ``drafts`` are pure (tested on CPython); ``dom`` and ``app`` are
the thin layer that renders element trees into the page and wires events, in the split of
Pyodide's own ``console.py``.
"""
