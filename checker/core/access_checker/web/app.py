"""The widget's controller in the browser: evaluate, render, keep the draft, produce outputs.

The loader (``widget.mjs``) calls :func:`mount` once Pyodide is up, and ``show`` whenever
there are claims to assess (or none, for a reader who is not signed in). Business rules stay
in the pure modules; this file only moves values between them and the page.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from access_checker import request
from access_checker.assessment import Assessment, evaluate
from access_checker.policy import Policy, parse_policy
from access_checker.web import drafts
from access_checker.web.dom import Renderer
from access_checker.web.elements import h
from access_checker.web.views import (
    Links,
    account_view,
    assessment_view,
    field_view,
    informational_note,
    outputs_view,
    privacy_view,
)


class Widget:
    def __init__(self, container: Any, policy: Policy, settings: dict[str, Any], bridge: Any) -> None:
        self.container = container
        self.policy = policy
        self.settings = settings
        self.bridge = bridge
        self.links = Links.from_settings(settings)
        self.fields = request.form_fields(policy)
        self.renderers = {name: Renderer() for name in ("note", "assessment", "form", "outputs", "privacy")}
        self.slots: dict[str, Any] = {}
        self.assessment: Assessment | None = None
        self.account: request.Account | None = None
        self.touched: set[str] = set()
        self.request_id = ""
        self.claims: dict[str, Any] = {}
        from js import document

        for name in self.renderers:
            slot = document.createElement("div")
            slot.setAttribute("data-slot", name)
            container.appendChild(slot)
            self.slots[name] = slot

    # -- assessment ---------------------------------------------------------------------------
    def show(self, claims_json: str | None, expires: int = 0) -> str:
        """Assess the claims (JSON text, or None when not signed in); returns the assessment JSON."""
        claims = json.loads(claims_json) if claims_json else None
        assessment = evaluate(claims, self.policy)
        self.assessment = assessment
        self.renderers["note"].replace_children(self.slots["note"], informational_note())
        self.renderers["assessment"].replace_children(self.slots["assessment"], assessment_view(assessment, self.links))
        self.account = self._account(assessment) if assessment.signed_in else None
        self.claims = claims if isinstance(claims, dict) else {}
        self._render_form()
        self.renderers["privacy"].replace_children(self.slots["privacy"], privacy_view(self._forget))
        self._store_summary(assessment, expires)
        return json.dumps(assessment.to_json())

    def _account(self, assessment: Assessment) -> request.Account:
        c = assessment.claims
        account = request.Account(self_reported=False, subject=c.subject, issuer=c.issuer,
                                  identity_provider=c.identity_provider, levels=tuple(assessment.projects.items()))
        # The reader cannot edit these: a value a request cannot carry (too long, hidden
        # direction or control characters) is left out instead of blocking every request.
        return request.check_account(account, self.policy).account

    def _store_summary(self, assessment: Assessment, expires: int) -> None:
        from js import sessionStorage

        # An expiry already passed (a slow boot outlived a short token) leaves no summary.
        if assessment.signed_in and expires > time.time():
            sessionStorage.setItem(drafts.SUMMARY_KEY, json.dumps(assessment.summary(expires)))
        else:
            sessionStorage.removeItem(drafts.SUMMARY_KEY)

    # -- the request form ---------------------------------------------------------------------
    def _draft_key(self) -> str:
        subject = self.assessment.claims.subject if self.assessment else None
        return drafts.draft_key(subject)

    def _render_form(self) -> None:
        from js import localStorage

        assessment = self.assessment
        assert assessment is not None
        wants_upgrade = any(o.kind == "special-request" for o in assessment.options)
        self.renderers["outputs"].replace_children(self.slots["outputs"])
        if not wants_upgrade:
            self.renderers["form"].replace_children(self.slots["form"])
            return
        saved = drafts.load(localStorage.getItem(self._draft_key()), time.time())
        values: drafts.FormValues = saved[0] if saved else {}
        self.request_id = saved[1] if saved else str(uuid.uuid4())
        # Prefill from the sign-in, never over what the reader typed.
        for name, claim in (("name", "name"), ("email", "email")):
            if not values.get(name) and isinstance(self.claims.get(claim), str):
                values[name] = self.claims[claim]
        form = h("form", {"class": "access-checker__form", "novalidate": "", "aria-labelledby": "ac-form-title"},
                 h("p", {"class": "access-checker__subtitle", "id": "ac-form-title"}, "Ask for full access"),
                 h("p", {}, "Fill in what support needs to know. Your draft is saved in this browser as you type."),
                 account_view(self.account, self.policy),
                 *[field_view(f, values.get(f.name, "")) for f in self.fields],
                 h("div", {"class": "access-checker__form-actions"},
                   h("button", {"type": "submit"}, "Prepare my request"),
                   h("button", {"type": "button", "data-action": "discard"}, "Discard draft",
                     on={"click": self._discard})),
                 on={"submit": self._submit, "input": self._input, "change": self._input, "focusout": self._blur})
        self.renderers["form"].replace_children(self.slots["form"], form)

    def _form(self) -> Any:
        return self.slots["form"].querySelector("form")

    def _values(self) -> drafts.FormValues:
        form = self._form()
        values: drafts.FormValues = {}
        for f in self.fields:
            if f.kind == "checkboxes":
                values[f.name] = [box.value for box in form.querySelectorAll(f'input[name="{f.name}"]:checked')]
            elif f.kind == "checkbox":
                values[f.name] = bool(form.querySelector(f'input[name="{f.name}"]').checked)
            else:
                values[f.name] = str(form.querySelector(f'[name="{f.name}"]').value)
        return values

    def _validate(self) -> request.FormResult:
        return request.validate_form(self._values(), self.policy, account=self.account, new_id=lambda: self.request_id)

    def _show_errors(self, errors: dict[str, str], only: set[str] | None = None) -> None:
        form = self._form()
        for f in self.fields:
            if only is not None and f.name not in only:
                continue
            message = errors.get(f.name, "")
            slot = form.querySelector(f'[data-error-for="{f.name}"]')
            slot.textContent = message
            for control in form.querySelectorAll(f'[name="{f.name}"]'):
                if message:
                    control.setAttribute("aria-invalid", "true")
                else:
                    control.removeAttribute("aria-invalid")

    def _input(self, event: Any) -> None:
        from js import localStorage

        self._save(localStorage)
        self.renderers["outputs"].replace_children(self.slots["outputs"])
        if self.touched:
            self._show_errors(self._validate().errors, self.touched)

    def _save(self, storage: Any) -> None:
        try:
            storage.setItem(self._draft_key(), drafts.dump(self._values(), self.request_id, time.time()))
        except Exception:  # quota or disabled storage: the form keeps working
            self._announce("Your draft could not be saved in this browser; keep this tab open.")

    def _blur(self, event: Any) -> None:
        name = event.target.getAttribute("name") if event.target.getAttribute else None
        if name:
            self.touched.add(str(name))
            self._show_errors(self._validate().errors, self.touched)

    def _submit(self, event: Any) -> None:
        event.preventDefault()
        result = self._validate()
        self.touched = {f.name for f in self.fields}
        self._show_errors(result.errors)
        if result.request is None:
            first = next((f for f in self.fields if f.name in result.errors), None)
            if first is None:  # nothing the reader can fix in the form (see _account)
                self._announce("The request cannot be prepared: " + " ".join(result.errors.values()))
                return
            control = self._form().querySelector(f'[name="{first.name}"]')
            control.focus()
            count = len(result.errors)
            self._announce(f"{count} {'field needs' if count == 1 else 'fields need'} attention: {result.errors[first.name]}")
            return
        self._show_outputs(result.request)

    def _show_outputs(self, req: request.UpgradeRequest) -> None:
        text = request.summary_text(req, self.policy)
        document = request.to_json(req)
        mailto = request.mailto_url(req, self.policy)

        def copy(event: Any) -> None:
            self.bridge.copy(text + "\n" + document)
            self._announce("The request is copied: paste it into the ticket.")

        def download(event: Any) -> None:
            self.bridge.download(request.json_filename(req), document)
            self._announce("The JSON file is downloaded.")

        self.renderers["outputs"].replace_children(
            self.slots["outputs"],
            outputs_view(helpdesk=self.policy.support.helpdesk, mailto=mailto.url, on_copy=copy, on_download=download,
                         short_mailto=mailto.shortened))
        self.slots["outputs"].querySelector("a").focus()
        self._announce("Your request is ready to send.")

    def _discard(self, event: Any) -> None:
        self.discard_draft()
        self._announce("The draft is discarded.")

    def discard_draft(self) -> None:
        """Remove the current account's draft and empty the form (also used at sign-out)."""
        from js import localStorage

        localStorage.removeItem(self._draft_key())
        self.touched = set()
        if self.assessment is not None:
            self._render_form()

    def _forget(self, event: Any) -> None:
        from js import localStorage, sessionStorage

        for storage in (localStorage, sessionStorage):
            keys = [storage.key(i) for i in range(storage.length)]
            for key in keys:
                if key and str(key).startswith(drafts.PREFIX):
                    storage.removeItem(key)
        self.touched = set()
        self._render_form()
        self.bridge.forgotten()
        self._announce("Your data is removed from this browser.")

    def _announce(self, message: str) -> None:
        self.bridge.announce(message)


def code_origin() -> str:
    """``bytecode`` when both the standard library and this package run from precompiled .pyc.

    zipimport (the stdlib zip, the wheel on ``sys.path``) names a module after the member it
    loaded, so a ``.pyc`` file name is the proof; an installed package has its pyc in
    ``__pycache__``.
    """
    import importlib.util
    import os

    import access_checker.assessment as ours

    def compiled(file: str | None) -> bool:
        if not file:
            return False
        return file.endswith(".pyc") or os.path.exists(importlib.util.cache_from_source(file))

    return "bytecode" if compiled(json.__file__) and compiled(ours.__file__) else "source"


def mount(container: Any, policy_data: Any, settings_json: str, bridge: Any) -> Widget:
    """Called by the loader: ``policy_data`` is the policy file's bytes (a Uint8Array)."""
    policy = parse_policy(bytes(policy_data.to_py()), "policy of record")
    return Widget(container, policy, json.loads(settings_json), bridge)
