"""The request draft as the page's storage hands it back: what of it the form can use.

The page keeps drafts in localStorage, one per account, and owns their keys and lifetime
(``storage.mjs``); it writes each change at once, so that a reload right after a keystroke
loses nothing. Storage is the reader's to edit, so a draft's fields are checked here before
they reach the form.
"""

from __future__ import annotations

from typing import Any, Final

from access_checker.web.form import FormValues

# The draft of a reader who is not signed in (a subject claim is never empty).
ANONYMOUS: Final = "anonymous"


def clean(fields: Any) -> FormValues:
    """The fields of a stored draft that have a form value's type; anything else is dropped."""
    if not isinstance(fields, dict):
        return {}
    out: FormValues = {}
    for key, value in fields.items():
        if isinstance(value, (str, bool)):
            out[str(key)] = value
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            out[str(key)] = list(value)
    return out
