"""The upgrade request form as an element tree: its fields, their hints and their messages.

Pure, like ``views``: every word is testable on CPython. Each field's container names the
field and its kind (``data-field``, ``data-kind``), which is all the page needs to read the
form's values back (``protocol.mjs``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from access_checker.policy import Policy
from access_checker.request import Account, FormField
from access_checker.web.elements import El, h
from access_checker.web.views import account_view

FormValue = str | list[str] | bool
FormValues = dict[str, FormValue]


def field_view(f: FormField, value: FormValue, error: str = "") -> El:
    """One labelled control with its hint and its message, tied by aria-describedby."""
    fid = "ac-" + f.name.replace(".", "-").replace("_", "-")
    hint_id, error_id = f"{fid}-hint", f"{fid}-error"
    described = f"{hint_id} {error_id}"
    invalid = {"aria-invalid": "true"} if error else {}
    message = h("p", {"class": "access-checker__error", "id": error_id, "data-error-for": f.name}, error or None)
    hint = h("p", {"class": "access-checker__hint", "id": hint_id}, f.hint)
    container = {"data-field": f.name, "data-kind": f.kind}
    if f.kind == "checkboxes":
        chosen = value if isinstance(value, list) else []
        boxes = [
            h("label", {"class": "access-checker__choice"},
              h("input", {"type": "checkbox", "name": f.name, "value": c.value, **invalid,
                          **({"checked": ""} if c.value in chosen else {})}),
              f" {c.label}")
            for c in f.choices
        ]
        return h("fieldset", {"class": "access-checker__field", **container, "aria-describedby": described},
                 h("legend", {}, f.label), hint, *boxes, message)
    if f.kind == "checkbox":
        attrs = {"type": "checkbox", "id": fid, "name": f.name, "aria-describedby": described, **invalid}
        if value is True:
            attrs["checked"] = ""
        label = h("label", {"for": fid}, f.label)
        link = (h("a", {"href": f.link, "target": "_blank", "rel": "noopener noreferrer"}, "Read the acceptable use policy")
                if f.link else None)
        return h("div", {"class": "access-checker__field access-checker__field--checkbox", **container},
                 h("input", attrs), " ", label, " ", link, hint, message)
    text = value if isinstance(value, str) else ""
    attrs = {"id": fid, "name": f.name, "aria-describedby": described, **invalid}
    if f.kind == "multiline":
        control = h("textarea", {**attrs, "rows": "5"}, text)
    else:
        input_type = {"email": "email", "number": "number"}.get(f.kind, "text")
        attrs.update({"type": input_type, "value": text})
        if f.kind == "number":
            attrs.update({"inputmode": "numeric", "min": str(f.minimum), "max": str(f.maximum), "step": "1"})
        if f.autocomplete:
            attrs["autocomplete"] = f.autocomplete
        control = h("input", attrs)
    return h("div", {"class": "access-checker__field", **container},
             h("label", {"for": fid}, f.label), hint, control, message)


def form_view(fields: Sequence[FormField], values: Mapping[str, FormValue], errors: Mapping[str, str],
              account: Account | None, policy: Policy, key: str) -> El:
    """The whole form. ``key`` names this draft: a new key makes the page build a new form
    (discarded, forgotten, another account), the same key patches the one the reader is in."""
    return h("form", {"class": "access-checker__form", "novalidate": "", "aria-labelledby": "ac-form-title",
                      "data-key": key},
             h("p", {"class": "access-checker__subtitle", "id": "ac-form-title"}, "Ask for full access"),
             h("p", {}, "Fill in what support needs to know. Your draft is saved in this browser as you type."),
             account_view(account, policy),
             *[field_view(f, values.get(f.name, ""), errors.get(f.name, "")) for f in fields],
             h("div", {"class": "access-checker__form-actions"},
               h("button", {"type": "submit"}, "Prepare my request"),
               h("button", {"type": "button", "data-action": "discard"}, "Discard draft")))
