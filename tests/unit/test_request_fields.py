"""The request's fields table: the one place a field is declared, and what is derived from it."""

from __future__ import annotations

from typing import Any

import pytest

from access_checker.policy import Policy
from access_checker.request import Account, Resources, UpgradeRequest, check_account, to_document, validate_form
from access_checker.request.document import document_of
from access_checker.request.fields import FIELDS, Field, context_field, fields_for, form_inputs
from access_checker.request.form_reader import read_form
from access_checker.request.outputs import context_rows, describe, ticket_text
from access_checker.request.schema import schema_of
from access_checker.request.validation import check_document


def good_form() -> dict[str, object]:
    return {
        "name": "Ada Lovelace", "email": "ada@example.org", "institution": "Analytical Engines Ltd",
        "projects": ["imagine"], "features": ["train"], "why": "We train plankton classifiers and need GPUs.",
        "planned_use": "Train a segmentation model on 200 GB of images.", "resources.gpus": "1",
        "resources.storage_gb": "200", "duration_months": "6", "heard_from": "A colleague at a workshop",
        "accepted_aup": True,
    }


def make(policy: Policy) -> UpgradeRequest:
    request = validate_form(good_form(), policy).request
    assert request is not None
    return request


def by_name(fields: tuple[Field, ...]) -> dict[str, Field]:
    return {f.name: f for f in fields}


def test_the_records_have_the_tables_fields_in_order() -> None:
    fields = by_name(FIELDS)
    assert UpgradeRequest._fields == tuple(f.name for f in FIELDS if f.kind != "constant")
    assert Resources._fields == tuple(c.name for c in fields["resources"].children)
    assert Account._fields == tuple(c.name for c in fields["account"].children)
    assert fields["resources"].record is Resources and fields["account"].record is Account


def test_every_field_says_what_the_reader_and_support_see() -> None:
    for f in FIELDS:
        for c in (f, *f.children):
            if f.role == "answer" and c.kind != "object":
                assert c.label and c.hint.endswith(".") and c.ticket, c.name
            if c.kind in ("line", "email", "paragraphs", "token"):
                assert 0 < c.minimum <= c.maximum, c.name
            assert c.kind != "token" or c.rules, c.name


def test_the_policy_fills_in_limits_choices_and_links(policy: Policy, extended_policy: Policy) -> None:
    fields = by_name(fields_for(policy))
    gpus, storage = fields["resources"].children
    assert (gpus.maximum, storage.maximum, fields["duration_months"].maximum) == (2, 500, 24)
    assert storage.hint == "How much storage you need in gigabytes, from 0 to 500."
    assert fields["accepted_aup"].link == policy.support.acceptable_use
    assert [c.value for c in fields["projects"].choices] == ["ai4eosc", "imagine", "ai4life"]
    # Every feature is a valid choice; those above basic access are offered.
    assert [(c.value, c.offered) for c in fields["features"].choices][:4] == [
        ("try", False), ("deploy-cloud", False), ("llm", False), ("develop", True)]
    levels = context_field(fields_for(extended_policy)).children[-1]
    assert [k.value for k in levels.keys] == [p.id for p in extended_policy.projects]
    assert [c.label for c in levels.choices] == [level.name for level in extended_policy.levels]
    # Filled once per policy: the form asks on every key stroke.
    assert fields_for(policy) is fields_for(policy)
    bigger = policy._replace(limits=policy.limits._replace(max_storage_gb=20_000))
    assert by_name(fields_for(bigger))["resources"].children[1].hint.endswith("from 0 to 20,000.")
    # The declared table keeps its placeholders.
    assert by_name(FIELDS)["resources"].children[0].maximum == 0


# ---------------------------------------------------------------------------------------------
# One field more, in one place

ORCID = Field(
    "orcid", "line", 19, 19, label="ORCID iD", hint="Your ORCID identifier.", missing="Enter your ORCID iD.",
    ticket="ORCID iD", rules=((r"^[0-9]{4}-[0-9]{4}-[0-9]{4}-[0-9]{3}[0-9X]$", "Enter an ORCID iD like 0000-0002-1825-0097."),),
)
IDENTIFIER = "0000-0002-1825-0097"


def with_orcid(policy: Policy) -> tuple[Field, ...]:
    fields = fields_for(policy)
    after = [f.name for f in fields].index("heard_from") + 1
    return (*fields[:after], ORCID, *fields[after:])


def test_a_field_added_to_the_table_reaches_the_form_the_validator_the_document_the_schema_and_the_ticket(
    policy: Policy,
) -> None:
    table = with_orcid(policy)
    # 1. The form.
    inputs = [(f.name, f.kind, f.label) for f in form_inputs(table)]
    assert inputs[inputs.index(("heard_from", "text", "How did you hear about the platform?")) + 1] == ("orcid", "text", "ORCID iD")
    # 2. The validator: the form's answers, then documents.
    assert read_form({**good_form()}, table)[0] == {"orcid": "Enter your ORCID iD."}
    assert read_form({**good_form(), "orcid": "0000-0002"}, table)[0] == {"orcid": "Write at least 19 characters (now 9)."}
    errors, answers = read_form({**good_form(), "orcid": f" {IDENTIFIER}\u3000"}, table)
    assert errors == {} and answers["orcid"] == IDENTIFIER
    doc = {**to_document(make(policy)), "orcid": IDENTIFIER}
    problems, values = check_document(doc, table)
    assert problems == [] and values is not None
    assert [str(p) for p in check_document({**doc, "orcid": "0000-0002-1825-009Y"}, table)[0]] == [
        "orcid: Enter an ORCID iD like 0000-0002-1825-0097."]
    assert [str(p) for p in check_document({k: v for k, v in doc.items() if k != "orcid"}, table)[0]] == [
        "orcid: This field is missing."]
    assert [str(p) for p in check_document(doc, fields_for(policy))[0]] == ["orcid: Unknown field; remove it."]
    # 3. The canonical document's order.
    keys = list(document_of(values, table))
    assert keys[keys.index("heard_from") + 1] == "orcid"
    # 4. The JSON Schema.
    schema: dict[str, Any] = schema_of(table, "t", "d")
    assert schema["properties"]["orcid"] == {
        "type": "string", "$ref": "#/$defs/line", "minLength": 19, "maxLength": 19, "pattern": ORCID.rules[0][0]}
    assert "orcid" in schema["required"]
    # 5. The ticket text.
    lines = ticket_text(values, table).split("\n")
    assert lines[lines.index("Heard about the platform from: A colleague at a workshop") + 1] == f"ORCID iD: {IDENTIFIER}"


@pytest.mark.cpython_only
def test_the_schema_of_the_added_field_agrees_with_the_validator(policy: Policy) -> None:
    from jsonschema import Draft202012Validator  # type: ignore[import-untyped]

    table = with_orcid(policy)
    validator = Draft202012Validator(schema_of(table, "t", "d"))
    doc = {**to_document(make(policy)), "orcid": IDENTIFIER}
    for value in (IDENTIFIER, "0000-0002-1825-009Y", f"{IDENTIFIER}\n", None):
        changed = {**doc, "orcid": value}
        assert validator.is_valid(changed) == (check_document(changed, table)[0] == []), value


# ---------------------------------------------------------------------------------------------
# The account context


def test_check_account_says_what_a_request_can_carry(policy: Policy) -> None:
    account = Account(self_reported=False, subject=" 1234@egi.eu ", issuer="http://example.org",
                      identity_provider="i" * 101, levels=(("imagine", "full"), ("ai4eosc", "basic")))
    check = check_account(account, policy)
    assert check.errors == {
        "account.issuer": "Must be an https:// URL (or http://127.0.0.1 for local testing).",
        "account.identity_provider": "Shorten this to at most 100 characters (now 101).",
    }
    assert check.account == Account(self_reported=False, subject="1234@egi.eu",
                                     levels=(("ai4eosc", "basic"), ("imagine", "full")))
    # What it carries is clean, and the form takes it as it is.
    assert check_account(check.account, policy) == (check.account, {})
    assert validate_form(good_form(), policy, account=check.account).errors == {}
    # A mapping means the defaults for what it leaves out: self-reported, no levels.
    assert check_account({"subject": ""}, policy) == (Account(self_reported=True), {})
    broken = check_account({"self_reported": "no", "levels": {"x": "full"}, "role": "admin"}, policy)
    assert list(broken.errors) == ["account.self_reported", "account.levels.x", "account.role"]
    assert broken.account == Account(self_reported=True)


def test_the_account_in_words(policy: Policy) -> None:
    account = Account(self_reported=False, subject="1234@egi.eu", identity_provider="EGI Check-in",
                      levels=(("ai4eosc", "basic"), ("imagine", "full")))
    assert context_rows(account, policy) == [
        ("Account id", "1234@egi.eu"), ("Issuer", ""), ("Identity provider", "EGI Check-in"),
        ("Current levels", "AI4EOSC: basic access; iMagine: full access")]
    flag = context_field(fields_for(policy)).children[0]
    assert [describe(flag, v) for v in (False, True, None, "no")] == [
        "from the reader's sign-in", "self-reported", "self-reported", "self-reported"]
