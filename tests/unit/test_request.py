"""The upgrade request: form and document validation, canonical JSON, ticket text, mailto link."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from access_checker.policy import Policy, default_policy
from access_checker.request import (
    KIND,
    MAILTO_MAX,
    SCHEMA_ID,
    SUBJECT,
    Account,
    Problem,
    RequestError,
    Resources,
    UpgradeRequest,
    form_fields,
    from_document,
    json_filename,
    json_schema,
    mailto_url,
    new_request,
    summary_text,
    to_document,
    to_json,
    validate_document,
    validate_form,
)

REQUEST_ID = "0f8fad5b-d9cb-469f-a165-70867728950e"
WHEN = datetime(2025, 6, 1, 12, 30, 5, 123456, tzinfo=UTC)
CREATED = "2025-06-01T12:30:05Z"


def clock() -> datetime:
    return WHEN


def new_id() -> str:
    return REQUEST_ID


def good_form() -> dict[str, object]:
    return {
        "name": "Ada Lovelace",
        "email": "ada@example.org",
        "institution": "Analytical Engines Ltd",
        "projects": ["imagine", "ai4eosc"],
        "features": ["train", "develop"],
        "why": "We train plankton classifiers and need GPUs.",
        "planned_use": "Train a segmentation model on 200 GB of images.",
        "resources.gpus": "1",
        "resources.storage_gb": "200",
        "duration_months": "6",
        "heard_from": "A colleague at a workshop",
        "accepted_aup": True,
    }


def check(form: dict[str, object], policy: Policy, **kwargs: object) -> dict[str, str]:
    return validate_form(form, policy, clock=clock, new_id=new_id, **kwargs).errors  # type: ignore[arg-type]


def make(policy: Policy, account: dict[str, object] | None = None, **changes: object) -> UpgradeRequest:
    result = validate_form({**good_form(), **changes}, policy, account=account, clock=clock, new_id=new_id)
    assert result.errors == {}
    assert result.request is not None
    return result.request


@pytest.fixture
def doc(policy: Policy) -> dict[str, object]:
    return to_document(make(policy, account={"self_reported": True, "subject": "ada@egi.eu", "levels": {"ai4eosc": "basic"}}))


def problems_of(doc: object, policy: Policy) -> dict[str, str]:
    return {p.field: p.message for p in validate_document(doc, policy)}


# ---------------------------------------------------------------------------------------------
# The form


def test_form_fields_come_from_the_policy(policy: Policy) -> None:
    fields = form_fields(policy)
    assert [f.name for f in fields] == [
        "name", "email", "institution", "projects", "features", "why", "planned_use",
        "resources.gpus", "resources.storage_gb", "duration_months", "heard_from", "accepted_aup",
    ]
    by_name = {f.name: f for f in fields}
    assert by_name["resources.gpus"].maximum == policy.limits.max_gpus == 2
    assert by_name["resources.storage_gb"].maximum == 500
    assert (by_name["duration_months"].minimum, by_name["duration_months"].maximum) == (1, 24)
    assert [c.value for c in by_name["projects"].choices] == ["ai4eosc", "imagine", "ai4life"]
    # Only what an upgrade unlocks is offered.
    assert [c.value for c in by_name["features"].choices] == ["develop", "train", "deploy", "storage"]
    assert by_name["accepted_aup"].link == policy.support.acceptable_use
    assert by_name["planned_use"].hint == "The models, data and experiments you plan to run."
    assert by_name["email"].kind == "email" and by_name["why"].kind == "multiline"
    for f in fields:
        assert f.label and f.hint.endswith(".")


def test_form_fields_follow_a_policy_with_more_levels(extended_policy: Policy) -> None:
    by_name = {f.name: f for f in form_fields(extended_policy)}
    assert [c.value for c in by_name["features"].choices] == ["llm", "develop", "train", "deploy", "storage"]
    assert len(by_name["projects"].choices) == 5


def test_valid_form_makes_a_stamped_request(policy: Policy) -> None:
    result = validate_form(good_form(), policy, clock=clock, new_id=new_id)
    assert result.errors == {} and result.ok
    assert result.request == UpgradeRequest(
        id=REQUEST_ID, created=CREATED, policy=policy.version, name="Ada Lovelace",
        email="ada@example.org", institution="Analytical Engines Ltd",
        projects=("ai4eosc", "imagine"), features=("develop", "train"),
        why="We train plankton classifiers and need GPUs.",
        planned_use="Train a segmentation model on 200 GB of images.",
        resources=Resources(gpus=1, storage_gb=200), duration_months=6,
        heard_from="A colleague at a workshop", accepted_aup=True, account=None,
    )


def test_the_clock_is_converted_to_utc(policy: Policy) -> None:
    paris = timezone(timedelta(hours=2))
    result = validate_form(good_form(), policy, clock=lambda: datetime(2025, 6, 1, 14, 30, tzinfo=paris), new_id=new_id)
    assert result.request is not None and result.request.created == "2025-06-01T12:30:00Z"
    with pytest.raises(ValueError, match="aware"):
        validate_form(good_form(), policy, clock=lambda: datetime(2025, 6, 1), new_id=new_id)


def test_default_id_and_clock(policy: Policy) -> None:
    first = validate_form(good_form(), policy).request
    second = validate_form(good_form(), policy).request
    assert first is not None and second is not None and first.id != second.id
    assert validate_document(to_document(first), policy) == []


MISSING = {
    "name": "Enter your name.",
    "email": "Enter your e-mail address.",
    "institution": "Enter your institution or organisation.",
    "projects": "Choose at least one project.",
    "features": "Choose at least one feature.",
    "why": "Explain why you need full access.",
    "planned_use": "Describe what you plan to do with full access.",
    "resources.gpus": "Enter a whole number from 0 to 2.",
    "resources.storage_gb": "Enter a whole number from 0 to 500.",
    "duration_months": "Enter a whole number from 1 to 24.",
    "heard_from": "Tell us how you heard about the platform.",
    "accepted_aup": "You must accept the acceptable use policy to send a request.",
}


@pytest.mark.parametrize("field", MISSING)
def test_each_missing_field_is_reported(policy: Policy, field: str) -> None:
    form = good_form()
    del form[field]
    result = validate_form(form, policy, clock=clock, new_id=new_id)
    assert result.errors == {field: MISSING[field]}
    assert result.request is None


@pytest.mark.parametrize("field", ["name", "email", "institution", "why", "planned_use", "heard_from"])
def test_blank_text_counts_as_missing(policy: Policy, field: str) -> None:
    assert check({**good_form(), field: " \t\u00a0\n "}, policy) == {field: MISSING[field]}


def test_empty_form_reports_every_field_in_order(policy: Policy) -> None:
    assert list(check({}, policy)) == list(MISSING)


def test_text_is_normalised_and_trimmed(policy: Policy) -> None:
    request = make(policy, name="  Jose\u0301 Garci\u0301a\u3000", why="\r\n  Because\r\nwe must, really, truly.  \n\n")
    assert request.name == "José García"
    assert request.why == "Because\nwe must, really, truly."


@pytest.mark.parametrize(("value", "ok"), [
    ("a" * 200, True),
    ("a" * 201, False),
    ("👩‍🔬" * 66 + "ab", True),  # 3 code points each: 200 in all
    ("👩‍🔬" * 67, False),  # 201 code points, though it looks like 67 characters
    ("e\u0301" * 200, True),  # 400 code points typed, 200 after NFC
    ("e\u0301" * 201, False),
    ("\u0958" * 100, True),  # NFC decomposes it: 200 code points
    ("\u0958" * 101, False),
])
def test_name_length_counts_code_points_after_nfc(policy: Policy, value: str, ok: bool) -> None:
    errors = check({**good_form(), "name": value}, policy)
    if ok:
        assert errors == {}
    else:
        assert errors["name"].startswith("Shorten this to at most 200 characters (now 20")


def test_long_text_bounds(policy: Policy) -> None:
    assert check({**good_form(), "why": "x" * 20}, policy) == {}
    assert check({**good_form(), "why": "x" * 19}, policy) == {"why": "Write at least 20 characters (now 19)."}
    assert check({**good_form(), "why": " " * 10 + "x" * 19 + "\n" * 5}, policy)["why"].endswith("(now 19).")
    assert check({**good_form(), "planned_use": "y" * 4000}, policy) == {}
    assert check({**good_form(), "planned_use": "y" * 4001}, policy) == {
        "planned_use": "Shorten this to at most 4,000 characters (now 4,001)."
    }
    assert check({**good_form(), "planned_use": "é\n" * 2000 + "é"}, policy) == {"planned_use": "Shorten this to at most 4,000 characters (now 4,001)."}
    assert check({**good_form(), "heard_from": "h" * 500}, policy) == {}
    assert "heard_from" in check({**good_form(), "heard_from": "h" * 501}, policy)
    assert check({**good_form(), "institution": "i" * 201}, policy)["institution"].startswith("Shorten this to at most 200")


@pytest.mark.parametrize("email", [
    "ada@example.org", "ada.lovelace+docs@mail.example.co.uk", "o'neil@example.ie", "x@a-b.example",
    "jürgen@bücher.de", "用户@例子.广告", "a" * 64 + "@example.org", "a@" + "b" * 63 + ".org",
])
def test_valid_emails(policy: Policy, email: str) -> None:
    assert check({**good_form(), "email": email}, policy) == {}


@pytest.mark.parametrize("email", [
    "ada", "ada@", "@example.org", "ada@example", "ada@@example.org", "ada@ex@ample.org", "ada lovelace@example.org",
    "ada@exa mple.org", "ada@-example.org", "ada@example-.org", "ada@example..org", ".ada@example.org",
    "ada.@example.org", "a..b@example.org", "ada@example.org.", "ada@exam_ple.org", "<ada@example.org>",
    "ada@" + "b" * 64 + ".org", "ada@[127.0.0.1]",
])
def test_invalid_emails(policy: Policy, email: str) -> None:
    assert check({**good_form(), "email": email}, policy) == {"email": "Enter an e-mail address like name@example.org."}


def test_email_length_limits(policy: Policy) -> None:
    assert check({**good_form(), "email": "a" * 65 + "@example.org"}, policy) == {
        "email": "The part before the @ can have at most 64 characters."
    }
    long_domain = ".".join(["d" * 60] * 4) + ".org"  # 247 characters
    assert check({**good_form(), "email": "abcdef@" + long_domain}, policy) == {}  # 254
    assert check({**good_form(), "email": "abcdefg@" + long_domain}, policy) == {
        "email": "Shorten this to at most 254 characters (now 255)."
    }


@pytest.mark.parametrize("value", ["", "x", "1.5", "-1", "3", "1e0", "+1", "0x1", "٢", "2 2", "9" * 40])
def test_gpus_must_be_a_whole_number_in_range(policy: Policy, value: str) -> None:
    assert check({**good_form(), "resources.gpus": value}, policy) == {"resources.gpus": "Enter a whole number from 0 to 2."}


@pytest.mark.parametrize(("field", "value", "expected"), [
    ("resources.gpus", "2", 2), ("resources.gpus", " 0 ", 0), ("resources.gpus", "02", 2), ("resources.gpus", 1, 1),
    ("resources.gpus", 2.0, 2),
    ("resources.storage_gb", "500", 500), ("resources.storage_gb", "0", 0),
    ("duration_months", "1", 1), ("duration_months", "24", 24),
])
def test_numbers_from_form_strings(policy: Policy, field: str, value: object, expected: int) -> None:
    request = validate_form({**good_form(), field: value}, policy, clock=clock, new_id=new_id).request
    assert request is not None
    got = {"resources.gpus": request.resources.gpus, "resources.storage_gb": request.resources.storage_gb,
           "duration_months": request.duration_months}[field]
    assert got == expected


@pytest.mark.parametrize(("field", "value"), [
    ("resources.storage_gb", "501"), ("duration_months", "0"), ("duration_months", "25"), ("resources.gpus", True),
    ("resources.gpus", 2.5), ("resources.gpus", None), ("resources.gpus", math.nan),
])
def test_numbers_out_of_range_or_wrong(policy: Policy, field: str, value: object) -> None:
    assert list(check({**good_form(), field: value}, policy)) == [field]


@pytest.mark.parametrize(("field", "value", "fragment"), [
    ("name", "Ada\x00Lovelace", "control character (U+0000) at position 4"),
    ("name", "Ada\x07", "control character (U+0007) at position 4"),
    ("why", "Because\x1b[31m we need this badly.", "control character (U+001B)"),
    ("institution", "Uni\x7f", "U+007F"),
    ("institution", "Uni\x85versity", "U+0085"),
    ("heard_from", "A\x9fB", "U+009F"),
    ("name", "Ada\u202eecalevol", "text-direction character (U+202E) at position 4: it can make text display misleadingly"),
    ("why", "Needed for \u2066isolated\u2069 reasons, truly.", "text-direction character (U+2066)"),
    ("heard_from", "\u202aembedded", "U+202A"),
    ("name", "Ada\tLovelace", "Remove the tab at position 4"),
    ("name", "Ada\nLovelace", "Keep this on one line"),
    ("name", "Ada\r\nLovelace", "Keep this on one line"),
    ("institution", "Uni\u2028versity", "Keep this on one line"),
    ("why", "Because we need it.\u2028Name: admin", "line or paragraph separator (U+2028)"),
    ("why", "Because we need\rthis very much.", "U+000D"),
    ("name", "Ada\ud800", "broken character at position 4"),
    ("why", "\udc00Because we need this badly.", "broken character at position 1"),
])
def test_rejected_characters(policy: Policy, field: str, value: str, fragment: str) -> None:
    errors = check({**good_form(), field: value}, policy)
    assert list(errors) == [field]
    assert fragment in errors[field]


@pytest.mark.parametrize(("field", "value"), [
    ("name", "👩‍🔬 Marie"),  # ZWJ sequence
    ("name", "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"),  # ZWNJ in Persian
    ("why", "Tab\tseparated\nlines are fine in a long answer."),
    ("name", "Ada\u00a0Lovelace"),
    ("name", "\u05d0\u05d3\u05d4 (Ada)"),  # right-to-left text without bidi controls
])
def test_allowed_characters(policy: Policy, field: str, value: str) -> None:
    assert check({**good_form(), field: value}, policy) == {}


def test_every_python_space_is_stripped_or_rejected(policy: Policy) -> None:
    spaces = [chr(c) for c in range(0x110000) if chr(c).isspace()]
    for space in spaces:
        result = validate_form({**good_form(), "name": f"{space}Ada{space}"}, policy, clock=clock, new_id=new_id)
        assert result.request is None or result.request.name == "Ada", repr(space)


@pytest.mark.parametrize("value", [False, None, "", "off", "no", 1])
def test_aup_must_be_accepted(policy: Policy, value: object) -> None:
    assert check({**good_form(), "accepted_aup": value}, policy) == {
        "accepted_aup": "You must accept the acceptable use policy to send a request."
    }


@pytest.mark.parametrize("value", [True, "on", "true", "Yes", "1"])
def test_aup_checkbox_values(policy: Policy, value: object) -> None:
    assert check({**good_form(), "accepted_aup": value}, policy) == {}


def test_projects_and_features_from_checkboxes(policy: Policy) -> None:
    assert check({**good_form(), "projects": ["ai4eosc", "nope"]}, policy) == {
        "projects": "Choose projects from the list; reload the page if it is out of date."
    }
    assert "features" in check({**good_form(), "features": ["fly"]}, policy)
    assert check({**good_form(), "projects": []}, policy) == {"projects": "Choose at least one project."}
    assert check({**good_form(), "projects": "oops"}, policy) == {"projects": "Choose projects from the list; reload the page if it is out of date."}
    assert make(policy, projects="imagine").projects == ("imagine",)
    # A repeated checkbox value is the caller's quirk, not the reader's mistake.
    assert make(policy, projects=["imagine", "imagine", "ai4life"]).projects == ("imagine", "ai4life")
    # Basic features are accepted though the form does not offer them.
    assert make(policy, features=["llm", "storage"]).features == ("llm", "storage")


def test_unknown_form_keys_are_ignored(policy: Policy) -> None:
    assert check({**good_form(), "kind": "x", "id": "y", "submit": "Send"}, policy) == {}


# ---------------------------------------------------------------------------------------------
# Account context


def test_account_context(policy: Policy) -> None:
    request = make(policy, account={
        "self_reported": False, "subject": " 1234@egi.eu ", "issuer": "https://aai.egi.eu/auth/realms/egi",
        "identity_provider": "EGI Check-in", "levels": {"imagine": "full", "ai4eosc": "basic"},
    })
    assert request.account == Account(
        self_reported=False, subject="1234@egi.eu", issuer="https://aai.egi.eu/auth/realms/egi",
        identity_provider="EGI Check-in", levels=(("ai4eosc", "basic"), ("imagine", "full")),
    )


def test_account_defaults_to_self_reported(policy: Policy) -> None:
    request = make(policy, account={"subject": "", "identity_provider": "my university"})
    assert request.account == Account(self_reported=True, identity_provider="my university")


@pytest.mark.parametrize(("account", "field"), [
    ({"issuer": "http://example.org"}, "account.issuer"),
    ({"issuer": "http://127.0.0.1.example.org"}, "account.issuer"),
    ({"issuer": "https://"}, "account.issuer"),
    ({"issuer": "https://exa mple.org"}, "account.issuer"),
    ({"issuer": "x" * 300}, "account.issuer"),
    ({"subject": "s" * 256}, "account.subject"),
    ({"subject": 42}, "account.subject"),
    ({"identity_provider": "i" * 101}, "account.identity_provider"),
    ({"self_reported": "yes"}, "account.self_reported"),
    ({"levels": {"nope": "full"}}, "account.levels.nope"),
    ({"levels": {"ai4eosc": "admin"}}, "account.levels.ai4eosc"),
    ({"levels": ["full"]}, "account.levels"),
    ({"role": "admin"}, "account.role"),
])
def test_bad_account_context(policy: Policy, account: dict[str, object], field: str) -> None:
    assert list(check(good_form(), policy, account=account)) == [field]


@pytest.mark.parametrize("issuer", [
    "https://login.cloud.ai4eosc.eu/realms/ai4eosc", "http://127.0.0.1:9400", "http://127.0.0.1", "https://aai.egi.eu/auth/realms/egi?x=1",
])
def test_good_issuers(policy: Policy, issuer: str) -> None:
    assert check(good_form(), policy, account={"issuer": issuer}) == {}


# ---------------------------------------------------------------------------------------------
# Documents


def test_valid_document_and_round_trip(policy: Policy, doc: dict[str, object]) -> None:
    assert validate_document(doc, policy) == []
    request = from_document(doc, policy)
    assert to_document(request) == doc
    text = to_json(request)
    assert from_document(json.loads(text), policy) == request
    assert to_json(from_document(json.loads(text), policy)) == text


def test_canonical_json_layout(policy: Policy) -> None:
    text = to_json(make(policy, name="Zoë Ådahl", why="Première ligne,\nseconde ligne du texte."))
    assert text.endswith("}\n") and not text.endswith("\n\n")
    assert '  "name": "Zoë Ådahl",\n' in text  # not ASCII-escaped, two-space indent
    assert '"why": "Première ligne,\\nseconde ligne du texte."' in text
    keys = list(json.loads(text))
    assert keys == ["kind", "version", "id", "created", "policy", "name", "email", "institution", "projects",
                    "features", "why", "planned_use", "resources", "duration_months", "heard_from", "accepted_aup",
                    "account"]
    assert json.loads(text)["account"] is None
    text.encode("utf-8")


def test_a_different_policy_version_is_accepted(policy: Policy, doc: dict[str, object]) -> None:
    assert validate_document({**doc, "policy": "0123456789abcdef"}, policy) == []
    assert validate_document({**doc, "policy": "2025-06 draft"}, policy) == []
    assert list(problems_of({**doc, "policy": ""}, policy)) == ["policy"]
    assert list(problems_of({**doc, "policy": 7}, policy)) == ["policy"]


@pytest.mark.parametrize(("key", "value"), [
    ("kind", "ai4os.access-request"), ("kind", []), ("version", 2), ("version", "1"), ("version", True),
    ("id", "not-a-uuid"), ("id", "0F8FAD5B-D9CB-469F-A165-70867728950E"), ("id", "0f8fad5b-d9cb-169f-a165-70867728950e"),
    ("id", "0f8fad5bd9cb469fa16570867728950e"), ("id", 5),
    ("created", "2025-06-01T12:30:05"), ("created", "2025-06-01T12:30:05+00:00"), ("created", "2025-06-01T12:30:05.5Z"),
    ("created", "2025-02-29T00:00:00Z"), ("created", "2025-04-31T00:00:00Z"), ("created", "2025-06-01 12:30:05Z"),
    ("created", "2025-06-01T24:00:00Z"), ("created", "2025-06-01t12:30:05z"), ("created", 1748781005),
    ("name", " Ada"), ("name", "Ada\n"), ("name", ""), ("name", None), ("name", ["Ada"]),
    ("email", "ada@example"), ("why", "Because\r\nwe need it, truly."), ("why", "Too short."),
    ("projects", []), ("projects", "ai4eosc"), ("projects", ["ai4eosc", "ai4eosc"]), ("projects", ["nope"]),
    ("features", [1]), ("resources", {"gpus": "2", "storage_gb": 1}), ("resources", {"gpus": 1}),
    ("resources", {"gpus": 1, "storage_gb": 1, "cpus": 4}), ("resources", {"gpus": 3, "storage_gb": 1}),
    ("resources", {"gpus": 1.5, "storage_gb": 1}), ("resources", [1, 1]),
    ("duration_months", True), ("duration_months", 0), ("duration_months", 25), ("duration_months", "6"),
    ("duration_months", math.inf), ("heard_from", 3), ("accepted_aup", False), ("accepted_aup", 1), ("accepted_aup", "true"),
    ("account", "me"), ("account", {"self_reported": True}), ("account", []),
])
def test_document_problems(policy: Policy, doc: dict[str, object], key: str, value: object) -> None:
    problems = problems_of({**doc, key: value}, policy)
    assert problems
    assert all(field == key or field.startswith((f"{key}.", f"{key}[")) for field in problems), problems


def test_document_messages(policy: Policy, doc: dict[str, object]) -> None:
    assert problems_of({**doc, "resources": {"gpus": "2", "storage_gb": 1}}, policy) == {
        "resources.gpus": "Must be a JSON integer (a whole number without quotes) from 0 to 2."
    }
    assert problems_of({**doc, "duration_months": True}, policy) == {
        "duration_months": "Must be a JSON integer (a whole number without quotes) from 1 to 24."
    }
    assert problems_of({**doc, "projects": ["ai4eosc", "imagine", "ai4eosc"]}, policy) == {
        "projects[2]": 'The project "ai4eosc" is listed twice; list it once.'
    }
    assert problems_of({**doc, "features": ["train", "fly"]}, policy) == {
        "features[1]": 'Unknown feature "fly"; use one of: try, deploy-cloud, llm, develop, train, deploy, storage.'
    }
    assert problems_of({**doc, "extra": 1, "kind": "x"}, policy) == {
        "kind": 'Must be "ai4os.access-upgrade-request".', "extra": "Unknown field; remove it."
    }
    assert problems_of({**doc, "name": "Ada "}, policy) == {"name": "Remove the spaces or line breaks at the start and end."}
    missing = dict(doc)
    del missing["why"], missing["kind"]
    assert [p.field for p in validate_document(missing, policy)] == ["kind", "why"]
    assert str(validate_document(missing, policy)[0]) == "kind: This field is missing."


def test_problems_come_in_model_order(policy: Policy) -> None:
    problems = validate_document({"zzz": 1, "accepted_aup": False, "name": 1}, policy)
    fields = [p.field for p in problems]
    assert fields[:4] == ["kind", "version", "id", "created"]
    assert fields.index("name") < fields.index("accepted_aup") < fields.index("zzz")



def test_problems_inside_objects_and_rules_come_in_model_order(policy: Policy, doc: dict[str, object]) -> None:
    # Each field's problem where the field is, its rules included (the e-mail's pattern before
    # the next field), and an object's missing members where they belong.
    assert list(problems_of({**doc, "email": "ada", "institution": ""}, policy)) == ["email", "institution"]
    assert list(problems_of({**doc, "account": {"self_reported": "yes", "levels": {}, "x": 1}}, policy)) == [
        "account.self_reported", "account.subject", "account.issuer", "account.identity_provider", "account.x"]


def test_document_leniencies(policy: Policy, doc: dict[str, object]) -> None:
    # Any order of ids; the request keeps the policy's order.
    swapped = {**doc, "projects": ["imagine", "ai4eosc"], "features": ["train", "develop"]}
    assert from_document(swapped, policy) == from_document(doc, policy)
    # JSON does not tell 2 from 2.0; JSON Schema calls both integers, and so do we.
    request = from_document({**doc, "version": 1.0, "resources": {"gpus": 2.0, "storage_gb": 0}}, policy)
    assert request.resources == Resources(2, 0) and type(request.resources.gpus) is int
    # An absent account is the same as null.
    without = {k: v for k, v in doc.items() if k != "account"}
    assert from_document(without, policy) == from_document({**doc, "account": None}, policy)
    # Texts are taken as written: NFD is not an error (it looks the same).
    assert from_document({**doc, "name": "Jose\u0301"}, policy).name == "Jose\u0301"


def test_account_keys_in_documents(policy: Policy, doc: dict[str, object]) -> None:
    account = doc["account"]
    assert isinstance(account, dict)
    partial = {k: v for k, v in account.items() if k != "issuer"}
    assert problems_of({**doc, "account": partial}, policy) == {"account.issuer": "This field is missing."}
    assert problems_of({**doc, "account": {**account, "subject": ""}}, policy) == {"account.subject": "Must not be empty."}
    assert list(problems_of({**doc, "account": {**account, "levels": {"ai4eosc": None}}}, policy)) == ["account.levels.ai4eosc"]
    assert validate_document({**doc, "account": {**account, "levels": {}}}, policy) == []


JUNK: list[object] = [
    None, [], 5, -1, 0.5, math.nan, "request", True, {}, {"kind": []}, {"kind": {}}, {"projects": [[]]},
    {"projects": [{"a": 1}], "features": [None, 1.5]}, {"account": {"levels": {"ai4eosc": []}}},
    {"account": {"levels": []}}, {"resources": {"gpus": {}}}, {"version": math.nan}, {"id": None, "created": []},
    {1: 2, (1, 2): 3}, {"name": "\ud800"}, [[[[[[[]]]]]]], {"resources": {"gpus": 10**5000}},
    {"projects": ["x" * 10_000]}, {"account": {"levels": {"ai4eosc": {"x": 1}}, "self_reported": []}},
]


@pytest.mark.parametrize("junk", JUNK)
def test_junk_never_raises(policy: Policy, junk: object) -> None:
    problems = validate_document(junk, policy)
    assert problems and all(isinstance(p, Problem) for p in problems)
    for p in problems:
        assert len(p.message) < 300
    with pytest.raises(RequestError) as caught:
        from_document(junk, policy)
    assert caught.value.problems == problems


def test_deeply_nested_junk(policy: Policy, doc: dict[str, object]) -> None:
    # As deep as json.loads goes before its own recursion limit; deeper structures cannot come
    # from a JSON file, and freeing them overflows the WebAssembly stack in Pyodide.
    deep: object = []
    for _ in range(900):
        deep = [deep]
    assert list(problems_of({**doc, "projects": [deep], "name": deep}, policy)) == ["name", "projects[0]"]


def test_new_request(policy: Policy) -> None:
    answers: dict[str, object] = dict(
        name="Ada", email="ada@example.org", institution="Engines", projects=["ai4eosc"], features=["train"],
        why="x" * 20, planned_use="y" * 20, resources={"gpus": 0, "storage_gb": 0}, duration_months=1,
        heard_from="web", accepted_aup=True,
    )
    account = Account(self_reported=True, levels=(("ai4eosc", "basic"),))
    request = new_request(policy, answers, account=account, clock=clock, new_id=new_id)
    assert (request.id, request.created, request.policy) == (REQUEST_ID, CREATED, policy.version)
    assert request.account is not None and request.account.levels == (("ai4eosc", "basic"),)
    # The records of a request are answers too.
    assert new_request(policy, {**answers, "resources": Resources(0, 0)}, clock=clock, new_id=new_id).account is None
    with pytest.raises(RequestError) as caught:
        new_request(policy, {**answers, "resources": {"gpus": 9, "storage_gb": 0}}, clock=clock, new_id=lambda: "nope")
    assert [p.field for p in caught.value.problems] == ["id", "resources.gpus"]
    assert "resources.gpus: Must be a whole number from 0 to 2." in str(caught.value)
    with pytest.raises(RequestError) as caught:
        new_request(policy, {k: v for k, v in answers.items() if k != "why"}, clock=clock, new_id=new_id)
    assert str(caught.value) == "why: This field is missing."


def test_schema_header(policy: Policy) -> None:
    schema = json_schema(policy)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == SCHEMA_ID == "urn:ai4os:access-upgrade-request:1"
    assert schema["additionalProperties"] is False
    properties = schema["properties"]
    assert isinstance(properties, dict)
    assert properties["kind"] == {"const": KIND}
    assert properties["projects"]["items"] == {"enum": ["ai4eosc", "imagine", "ai4life"]}
    assert properties["resources"]["properties"]["gpus"] == {"type": "integer", "minimum": 0, "maximum": 2}
    json.dumps(schema, ensure_ascii=True).encode("ascii")  # patterns are plain \\u escapes


def schema_validator(policy: Policy) -> Any:
    """A jsonschema validator: call only from cpython_only tests (jsonschema is compiled)."""
    from jsonschema import Draft202012Validator  # type: ignore[import-untyped]

    schema = json_schema(policy)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


@pytest.mark.cpython_only
def test_schema_is_valid_draft_2020_12(policy: Policy, doc: dict[str, object]) -> None:
    assert schema_validator(policy).is_valid(doc)


# ---------------------------------------------------------------------------------------------
# What support reads

HOSTILE_WHY = "We need it.\nName: admin\n\nAccount (from the reader's sign-in):\n  Subject: root\nRequest id: 0"


def test_summary_text(policy: Policy) -> None:
    request = make(policy, account={"self_reported": True, "subject": "ada@egi.eu", "levels": {"ai4eosc": "basic"}})
    text = summary_text(request, policy)
    lines = text.split("\n")
    assert lines[0] == "Subject: AI4OS access upgrade request" == f"Subject: {SUBJECT}"
    assert text.endswith(f"The same request as JSON is in the attached file {json_filename(request)}.\n")
    for expected in [
        "Name: Ada Lovelace", "E-mail: ada@example.org", "Institution: Analytical Engines Ltd",
        "Projects: AI4EOSC, iMagine", "Features: Developing a model in the Dashboard; Training a model in the Dashboard",
        "GPUs: 1", "Storage: 200 GB", "Duration: 6 months", "Heard about the platform from: A colleague at a workshop",
        f"Acceptable use policy: accepted ({policy.support.acceptable_use})", "Why full access is needed:",
        "  We train plankton classifiers and need GPUs.", "Planned use:",
        "  Train a segmentation model on 200 GB of images.", "Account (self-reported):", "  Subject: ada@egi.eu",
        "  Issuer: not given", "  Identity provider: not given", "  Current levels: AI4EOSC: basic access",
        f"Request id: {REQUEST_ID}", f"Created: {CREATED}", f"Policy version: {policy.version}",
    ]:
        assert expected in lines, expected


def test_summary_without_account_and_signed_in(policy: Policy) -> None:
    assert "Account: not given" in summary_text(make(policy), policy).split("\n")
    signed_in = make(policy, account={"self_reported": False, "issuer": "https://aai.egi.eu/auth/realms/egi"})
    assert "Account (from the reader's sign-in):" in summary_text(signed_in, policy)


def test_hostile_answers_cannot_fake_fields(policy: Policy) -> None:
    request = make(policy, why=HOSTILE_WHY, planned_use=HOSTILE_WHY)
    lines = summary_text(request, policy).split("\n")
    assert [line for line in lines if line.startswith("Name:")] == ["Name: Ada Lovelace"]
    assert [line for line in lines if line.startswith("Request id:")] == [f"Request id: {REQUEST_ID}"]
    assert "  Name: admin" in lines and "  Request id: 0" in lines
    unindented = [line.split(":")[0] for line in lines if line and not line.startswith(" ")]
    assert unindented == [
        "Subject", "Name", "E-mail", "Institution", "Projects", "Features", "GPUs", "Storage", "Duration",
        "Heard about the platform from", "Acceptable use policy", "Why full access is needed", "Planned use",
        "Account", "Request id", "Created", "Policy version", "The same request as JSON is in the attached file ai4os-access-request-0f8fad5b-d9cb-469f-a165-70867728950e.json.",
    ]


def test_summary_defends_unvalidated_requests(policy: Policy) -> None:
    # A request made directly (not through validation) still cannot break the layout.
    request = make(policy)._replace(
        name="Ada\u2028Name: admin\rE-mail: x\x1b[2J\u202e", heard_from="a\x85b", projects=("nope",),
        why="\ud800 odd \x0bName: vertical tab",
    )
    text = summary_text(request, policy)
    unindented = [line for line in text.split("\n") if line and not line.startswith("  ")]
    assert [line for line in unindented if line.startswith("Name:")] == ["Name: Ada"]
    assert not any(line.startswith("E-mail: x") for line in unindented)
    assert "\x1b" not in text and "\u202e" not in text and "\u2028" not in text
    text.encode("utf-8")
    assert "Projects: nope" in text
    assert len(mailto_url(request, policy).url) <= MAILTO_MAX


def test_the_file_name_of_an_unvalidated_id_stays_on_one_line(policy: Policy) -> None:
    request = make(policy)._replace(id="x\nName: admin\u2028y\tz")
    assert json_filename(request) == "ai4os-access-request-x\ufffdName: admin\ufffdy\ufffdz.json"
    assert summary_text(request, policy).endswith(f"attached file {json_filename(request)}.\n")


def decode_mailto(url: str) -> tuple[str, str, str]:
    parts = urlsplit(url)
    assert parts.scheme == "mailto"
    query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=True)
    assert set(query) == {"subject", "body"}
    return unquote(parts.path), query["subject"][0], query["body"][0]


def test_mailto_carries_the_summary(policy: Policy) -> None:
    request = make(policy, why="Short.\nBut enough: twenty+ characters & more?", name="Zoë #1 / 100%")
    url, shortened = mailto_url(request, policy)
    assert not shortened
    assert url.startswith("mailto:ai4eosc-support@listas.csic.es?subject=AI4OS%20access%20upgrade%20request&body=")
    assert len(url) <= MAILTO_MAX
    address, subject, body = decode_mailto(url)
    assert (address, subject) == ("ai4eosc-support@listas.csic.es", SUBJECT)
    assert body == summary_text(request, policy).replace("\n", "\r\n")
    assert "%0D%0A" in url and "+" not in url and " " not in url
    allowed = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~%:@?=&")
    assert set(url) <= allowed


def test_long_requests_fall_back_to_a_short_body(policy: Policy) -> None:
    request = make(policy, why="w" * 4000, planned_use="p" * 4000)
    url, shortened = mailto_url(request, policy)
    assert shortened and len(url) <= MAILTO_MAX
    _, subject, body = decode_mailto(url)
    assert subject == SUBJECT
    assert body.startswith("Subject: AI4OS access upgrade request\r\n")
    for expected in [f"Request id: {REQUEST_ID}", "Name: Ada Lovelace", "E-mail: ada@example.org",
                     "Projects: AI4EOSC, iMagine", json_filename(request), "attach"]:
        assert expected in body


def test_fallback_truncates_names_safely(policy: Policy) -> None:
    scientist = "👩\u200d🔬"
    name = (scientist * 66) + "é"
    email = "ü" * 64 + "@" + ".".join(["ñ" * 60] * 3) + ".es"
    request = make(policy, why="w" * 4000, name=name, email=email, projects=["ai4eosc", "imagine", "ai4life"])
    url = mailto_url(request, policy).url
    assert len(url) <= MAILTO_MAX
    _, _, body = decode_mailto(url)
    assert REQUEST_ID in body
    shown = next(line for line in body.split("\r\n") if line.startswith("Name: "))[len("Name: "):]
    assert shown.endswith("…")
    kept = shown[:-1]
    assert kept and name.startswith(kept) and len(kept) % 3 == 0  # whole ZWJ sequences only


def test_mailto_refuses_an_absurd_support_address(policy: Policy) -> None:
    odd = policy._replace(support=policy.support._replace(email="s" * 2000 + "@example.org"))
    with pytest.raises(ValueError, match="support address"):
        mailto_url(make(policy), odd)


def test_a_policy_with_more_projects_and_levels(extended_policy: Policy) -> None:
    request = make(extended_policy, projects=["tutorials", "kmd4eosc"], features=["llm"],
                   account={"levels": {"tutorials": "intermediate", "ai4eosc": "basic"}})
    doc = to_document(request)
    assert doc["projects"] == ["kmd4eosc", "tutorials"]
    assert doc["account"] == {"self_reported": True, "subject": None, "issuer": None, "identity_provider": None,
                              "levels": {"ai4eosc": "basic", "tutorials": "intermediate"}}
    assert validate_document(doc, extended_policy) == []
    assert "  Current levels: AI4EOSC: basic access; Tutorials: intermediate access" in summary_text(request, extended_policy)
    assert list(problems_of(doc, default_policy())) == ["projects[0]", "projects[1]", "account.levels.tutorials"]


@pytest.mark.cpython_only
def test_schema_follows_the_policy(extended_policy: Policy) -> None:
    doc = to_document(make(extended_policy, projects=["tutorials"], account={"levels": {"kmd4eosc": "intermediate"}}))
    assert schema_validator(extended_policy).is_valid(doc)
    assert not schema_validator(default_policy()).is_valid(doc)
