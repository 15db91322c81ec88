"""The worker's Python end: each message's reply, what the reader would see and keep.

The session is plain data in and out, so these tests drive it as the page does, message by
message, and read the element trees it sends back.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from access_checker.policy import Policy
from access_checker.web import session as session_module
from access_checker.web.session import ProtocolError, Session
from access_checker.web.views import Links

SCHEMA = Path(session_module.__file__).with_name("protocol.schema.json")
MEMBER = {"sub": "1234@egi.eu", "name": "Marta Ruiz", "email": "marta@example.org",
          "realm_access": {"roles": ["access:vo.ai4eosc.eu:ap-u"]}}
GOOD = {
    "name": "Marta Ruiz", "email": "marta.ruiz@example.org", "institution": "IFCA",
    "why": "We segment plankton images and need GPUs for training.",
    "planned_use": "Train a U-Net on 40k images and deploy it as a service.",
    "resources.gpus": "1", "resources.storage_gb": "200", "duration_months": "6", "heard_from": "A colleague",
    "projects": ["imagine"], "features": ["train"], "accepted_aup": True,
}


class Page:
    """The page's side, as widget.mjs drives it: numbered messages, replies kept."""

    def __init__(self, policy: Policy) -> None:
        self.session = Session(policy, Links("../"), 30)
        self.next_id = 0
        self.replies: list[dict[str, Any]] = []

    def send(self, kind: str, **body: Any) -> dict[str, Any]:
        self.next_id += 1
        message = {"v": 1, "type": kind, "id": self.next_id, **body}
        # Through JSON both ways, as the worker passes them.
        reply: dict[str, Any] = json.loads(self.session.handle_json(json.dumps(message)))
        assert reply["id"] == self.next_id
        self.replies.append(reply)
        return reply

    def show(self, claims: dict[str, Any] | None = None, drafts: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.send("show", claims=claims, expires=time.time() + 3600 if claims else 0, drafts=drafts or {})


def text(trees: list[Any]) -> str:
    return "".join(t if isinstance(t, str) else text(t["c"]) for t in trees)


def find(trees: list[Any], **attrs: str) -> list[dict[str, Any]]:
    found = []
    for tree in trees:
        if isinstance(tree, dict):
            if all(tree["a"].get(k.replace("_", "-")) == v for k, v in attrs.items()):
                found.append(tree)
            found.extend(find(tree["c"], **attrs))
    return found


def errors(reply: dict[str, Any]) -> dict[str, str]:
    return {e["a"]["data-error-for"]: text(e["c"]) for e in find(reply["slots"]["form"], **{"class": "access-checker__error"})
            if text(e["c"])}


def test_showing_a_reader_not_signed_in(policy: Policy) -> None:
    reply = Page(policy).show()
    slots = reply["slots"]
    assert reply["assessment"]["level"] == "anonymous" and reply["announce"] == "The checker is ready."
    assert "You are not signed in" in text(slots["assessment"]) and slots["who"] == []
    assert reply["storage"] == [{"op": "summary", "value": None}]
    assert reply["draft"]["subject"] == "anonymous" and reply["outputs"] is None
    assert "for 30 days" in text(slots["privacy"])


def test_a_signed_in_reader_gets_a_summary_and_a_prefilled_form(policy: Policy) -> None:
    reply = Page(policy).show(MEMBER)
    assert text(reply["slots"]["who"]) == "Signed in as Marta Ruiz"
    (summary,) = reply["storage"]
    assert summary["op"] == "summary" and summary["value"]["level"] == reply["assessment"]["level"]
    name = find(reply["slots"]["form"], name="name")[0]
    assert name["a"]["value"] == "Marta Ruiz" and reply["draft"]["subject"] == "1234@egi.eu"


def test_messages_show_only_for_fields_left_once(policy: Policy) -> None:
    page = Page(policy)
    page.show()
    assert "form" not in page.send("input", values={"email": "x"})["slots"]  # nothing touched: no re-render
    assert errors(page.send("blur", name="email", values={"email": "x"})) == {
        "email": "Enter an e-mail address like name@example.org."}
    # A key that leaves the messages as they are sends no form: the page would patch nothing.
    assert "form" not in page.send("input", values={"email": "xy"})["slots"]
    # Typing a valid address clears the message as the reader types.
    assert errors(page.send("input", values={"email": "a@example.org"})) == {}


def test_submit_focuses_the_first_field_in_error_then_prepares_the_outputs(policy: Policy) -> None:
    page = Page(policy)
    page.show()
    bad = page.send("submit", values={"email": "x"})
    assert bad["focus"] == '[name="name"]' and bad["announce"].startswith("12 fields need attention")
    assert bad["outputs"] is None
    good = page.send("submit", values=GOOD)
    assert errors(good) == {} and good["focus"] == '[data-output="helpdesk"]'
    document = json.loads(good["outputs"]["download"]["text"])
    assert document["name"] == "Marta Ruiz" and document["id"] == page.replies[0]["draft"]["id"]
    assert good["outputs"]["copy"]["text"].endswith(good["outputs"]["download"]["text"])
    # A change after that clears the outputs: they would no longer match the form.
    changed = page.send("input", values={**GOOD, "name": "Marta R."})
    assert changed["outputs"] is None and changed["slots"]["outputs"] == []


def test_a_stored_draft_comes_back_with_its_id_and_only_its_own_account(policy: Policy) -> None:
    drafts = {"anonymous": {"id": "a-1", "fields": {"why": "kept", "projects": ["ai4life"], "bad": {"x": 1}}},
              "1234@egi.eu": {"id": "m-1", "fields": {"why": "member's"}}}
    anonymous = Page(policy).show(drafts=drafts)
    assert anonymous["draft"]["id"] == "a-1"
    assert find(anonymous["slots"]["form"], name="why")[0]["c"] == ["kept"]
    assert "checked" in find(anonymous["slots"]["form"], name="projects", value="ai4life")[0]["a"]
    member = Page(policy).show(MEMBER, drafts)
    assert member["draft"]["id"] == "m-1"


def test_discard_and_forget_start_a_new_form(policy: Policy) -> None:
    page = Page(policy)
    first = page.show(MEMBER)
    key = find(first["slots"]["form"], **{"class": "access-checker__form"})[0]["a"]["data-key"]
    discarded = page.send("action", action="discard")
    assert discarded["storage"] == [{"op": "draft-remove", "subject": "1234@egi.eu"}]
    assert discarded["draft"]["id"] != first["draft"]["id"]
    assert find(discarded["slots"]["form"], **{"class": "access-checker__form"})[0]["a"]["data-key"] != key
    forgotten = page.send("action", action="forget")
    assert forgotten["storage"] == [{"op": "forget"}] and forgotten["announce"] == "Your data is removed from this browser."


def test_a_reader_with_full_access_gets_no_form(policy: Policy) -> None:
    roles = [f"access:{vo}:ap-u" for project in policy.projects for vo in project.vos]
    reply = Page(policy).show({"sub": "x", "realm_access": {"roles": roles}})
    assert set(reply["assessment"]["projects"].values()) == {"full"}
    assert reply["slots"]["form"] == [] and reply["draft"] is None
    assert Page(policy).session.handle({"v": 1, "type": "input", "id": 1, "values": {}})["slots"] == {}


def test_messages_out_of_step_fail_loudly(policy: Policy) -> None:
    page = Page(policy)
    with pytest.raises(ProtocolError, match="version"):
        page.session.handle({"v": 2, "type": "show"})
    with pytest.raises(ProtocolError, match="unknown message"):
        page.session.handle({"v": 1, "type": "explode", "id": 1})


@pytest.mark.cpython_only
@settings(max_examples=25)
@given(values=st.dictionaries(st.sampled_from(sorted(GOOD)), st.one_of(st.text(max_size=30), st.booleans(),
                                                                          st.lists(st.text(max_size=10), max_size=3))),
       kind=st.sampled_from(["input", "blur", "submit"]))
def test_every_reply_follows_the_protocol_schema(policy: Policy, values: dict[str, Any], kind: str) -> None:
    from jsonschema import Draft202012Validator  # type: ignore[import-untyped]

    validator = Draft202012Validator(json.loads(SCHEMA.read_text()))
    page = Page(policy)
    page.show(MEMBER)
    page.send(kind, values=values, **({"name": "email"} if kind == "blur" else {}))
    page.send("action", action="discard")
    for reply in page.replies:
        errors = sorted(e.message for e in validator.iter_errors(reply))
        assert not errors, errors
