"""The checker's controller in the worker: messages in, patches and storage requests out.

The page's loader (``widget.mjs``) runs Pyodide in a Web Worker (``worker.mjs``), which hands
each message from the page to :meth:`Session.handle_json` and posts the reply back. The
protocol is written down in ``protocol.schema.json`` beside this file; the maintainers' page
"How the checker works" explains it. Nothing here touches ``js``: the session is plain data
in, plain data out, so it runs the same on CPython under the tests.

A reply may carry:

- ``slots``: the new children of named places in the widget (``shell.SLOTS``), as element
  trees; the page patches them in and keeps focus, caret and scroll;
- ``announce``: a line for the status region; ``focus``: a selector to move focus to;
- ``storage``: what the page's storage module should do (``summary``, ``draft-remove``,
  ``forget``); the page writes the draft itself as the reader types;
- ``assessment``: the assessment's JSON (``window.accessChecker.assessment``);
- ``draft``: the subject and id the page saves the form under, or null when there is no form;
- ``outputs``: the prepared request's texts, so that copying and downloading happen within the
  reader's click, without a round trip (null clears them).
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any, Final

from access_checker import request
from access_checker.assessment import Assessment, evaluate
from access_checker.policy import Policy, parse_policy
from access_checker.text import display
from access_checker.web import drafts
from access_checker.web.elements import El
from access_checker.web.form import FormValues, form_view
from access_checker.web.views import Links, assessment_view, informational_note, outputs_view, privacy_view

PROTOCOL: Final = 1

Reply = dict[str, Any]
Slots = dict[str, list[El | str]]


class ProtocolError(ValueError):
    """A message the protocol does not have (the two ends are out of step)."""


class Session:
    def __init__(self, policy: Policy, links: Links, draft_days: int) -> None:
        self.policy = policy
        self.links = links
        self.draft_days = draft_days
        self.fields = request.form_fields(policy)
        self.assessment: Assessment | None = None
        self.account: request.Account | None = None
        self.claims: dict[str, Any] = {}
        self.values: FormValues = {}
        self.touched: set[str] = set()
        self.request_id = ""
        self.key = 0  # bumped whenever the form starts over: the page builds a new one
        self._shown: tuple[str, dict[str, str]] = ("", {})  # the form's key and messages last sent

    # -- the messages -------------------------------------------------------------------------
    def handle_json(self, text: str) -> str:
        return json.dumps(self.handle(json.loads(text)))

    def handle(self, message: dict[str, Any]) -> Reply:
        if message.get("v") != PROTOCOL:
            raise ProtocolError(f"protocol version {message.get('v')!r}, expected {PROTOCOL}")
        kind = message.get("type")
        reply: Reply = {"v": PROTOCOL, "type": "render", "id": message.get("id"), "slots": {}, "storage": []}
        if kind == "show":
            self._show(message, reply)
        elif kind in ("input", "blur", "submit"):
            if self.assessment is None or not self._wants_upgrade():
                return reply  # an event from a form that is gone: nothing to do
            self.values = drafts.clean(message.get("values"))
            if kind == "blur":
                self.touched.add(str(message.get("name")))
            if kind == "submit":
                self._submit(reply)
            else:
                reply["slots"]["outputs"] = []
                reply["outputs"] = None
                if self.touched:
                    self._render_form(reply, if_changed=True)
        elif kind == "action" and message.get("action") in ("discard", "forget"):
            self._start_over(reply, forget=message["action"] == "forget")
        else:
            raise ProtocolError(f"unknown message {kind!r}")
        reply["slots"] = {name: [c if isinstance(c, str) else c.to_json() for c in children]
                          for name, children in reply["slots"].items()}
        return reply

    # -- assessment ---------------------------------------------------------------------------
    def _show(self, message: dict[str, Any], reply: Reply) -> None:
        claims = message.get("claims")
        expires = message.get("expires") or 0
        assessment = evaluate(claims if isinstance(claims, dict) else None, self.policy)
        self.assessment = assessment
        self.claims = claims if isinstance(claims, dict) else {}
        self.account = self._account(assessment) if assessment.signed_in else None
        stored = message.get("drafts")
        saved = stored.get(self._subject()) if isinstance(stored, dict) else None
        self.touched = set()
        if isinstance(saved, dict) and isinstance(saved.get("id"), str):
            self.values, self.request_id = drafts.clean(saved.get("fields")), saved["id"]
            self._prefill()
        else:
            self._new_draft()
        slots = reply["slots"]
        slots["who"] = [self._who()] if assessment.signed_in else []
        slots["note"] = [informational_note()]
        slots["assessment"] = [assessment_view(assessment, self.links)]
        slots["outputs"] = []
        slots["privacy"] = [privacy_view(self.draft_days)]
        reply["outputs"] = None
        self._render_form(reply)
        # An expiry already passed (a slow boot outlived a short token) leaves no summary.
        summary = assessment.summary(int(expires)) if assessment.signed_in and expires > time.time() else None
        reply["storage"].append({"op": "summary", "value": summary})
        reply["assessment"] = assessment.to_json()
        reply["announce"] = "Your access level is shown below." if assessment.signed_in else "The checker is ready."

    def _account(self, assessment: Assessment) -> request.Account:
        c = assessment.claims
        account = request.Account(self_reported=False, subject=c.subject, issuer=c.issuer,
                                  identity_provider=c.identity_provider, levels=tuple(assessment.projects.items()))
        # The reader cannot edit these: a value a request cannot carry (too long, hidden
        # direction or control characters) is left out instead of blocking every request.
        return request.check_account(account, self.policy).account

    def _who(self) -> str:
        name = self.claims.get("name")
        assert self.assessment is not None
        shown = name if isinstance(name, str) and name.strip() else self.assessment.claims.subject or ""
        return "Signed in as " + display(shown, limit=80)

    # -- the request form ---------------------------------------------------------------------
    def _subject(self) -> str:
        return (self.assessment.claims.subject if self.assessment else None) or drafts.ANONYMOUS

    def _wants_upgrade(self) -> bool:
        return self.assessment is not None and any(o.kind == "special-request" for o in self.assessment.options)

    def _new_draft(self) -> None:
        self.values, self.request_id, self.touched = {}, str(uuid.uuid4()), set()
        self._prefill()

    def _prefill(self) -> None:
        """From the sign-in, never over what the reader typed."""
        for name, claim in (("name", "name"), ("email", "email")):
            if not self.values.get(name) and isinstance(self.claims.get(claim), str):
                self.values[name] = self.claims[claim]
        self.key += 1

    def _render_form(self, reply: Reply, errors: dict[str, str] | None = None, *, if_changed: bool = False) -> None:
        """The form with the messages of the fields left once. ``if_changed``: only when those
        messages or the draft changed (the page keeps what the reader typed, so a tree with the
        same messages would patch nothing: no need to build and send it on every key)."""
        if not self._wants_upgrade():
            reply["slots"]["form"] = []
            reply["draft"] = None
            return
        if errors is None:
            errors = self._validate().errors
        shown = {name: message for name, message in errors.items() if name in self.touched}
        key = f"{self.request_id}.{self.key}"
        if if_changed and (key, shown) == self._shown:
            return
        self._shown = (key, shown)
        reply["slots"]["form"] = [form_view(self.fields, self.values, shown, self.account, self.policy, key)]
        reply["draft"] = {"subject": self._subject(), "id": self.request_id,
                          "unsaved": "Your draft could not be saved in this browser; keep this tab open."}

    def _validate(self) -> request.FormResult:
        return request.validate_form(self.values, self.policy, account=self.account, new_id=lambda: self.request_id)

    def _submit(self, reply: Reply) -> None:
        result = self._validate()
        self.touched = {f.name for f in self.fields}
        self._render_form(reply, result.errors)
        if result.request is None:
            reply["slots"]["outputs"] = []
            reply["outputs"] = None
            first = next((f for f in self.fields if f.name in result.errors), None)
            if first is None:  # nothing the reader can fix in the form (see _account)
                reply["announce"] = "The request cannot be prepared: " + " ".join(result.errors.values())
                return
            count = len(result.errors)
            reply["focus"] = f'[name="{first.name}"]'
            reply["announce"] = (f"{count} {'field needs' if count == 1 else 'fields need'} attention: "
                                 f"{result.errors[first.name]}")
            return
        req = result.request
        text = request.summary_text(req, self.policy)
        document = request.to_json(req)
        mailto = request.mailto_url(req, self.policy)
        reply["slots"]["outputs"] = [outputs_view(helpdesk=self.policy.support.helpdesk, mailto=mailto.url,
                                                  short_mailto=mailto.shortened)]
        reply["outputs"] = {
            "copy": {"text": text + "\n" + document, "done": "The request is copied: paste it into the ticket.",
                     "blocked": "Copying is blocked in this browser: use Download JSON instead."},
            "download": {"filename": request.json_filename(req), "text": document, "done": "The JSON file is downloaded."},
        }
        reply["focus"] = '[data-output="helpdesk"]'
        reply["announce"] = "Your request is ready to send."

    def _start_over(self, reply: Reply, *, forget: bool) -> None:
        reply["storage"].append({"op": "forget"} if forget else {"op": "draft-remove", "subject": self._subject()})
        self._new_draft()
        reply["slots"]["outputs"] = []
        reply["outputs"] = None
        if self.assessment is not None:
            self._render_form(reply)
        reply["announce"] = "Your data is removed from this browser." if forget else "The draft is discarded."


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


def start(policy_file: str, settings_json: str) -> Session:
    """Called by the worker once Python is up: where it put the policy file, the page's settings."""
    settings = json.loads(settings_json)
    with open(policy_file, "rb") as f:
        policy = parse_policy(f.read(), "policy of record")
    return Session(policy, Links.from_settings(settings), int(settings.get("draftDays", 30)))
