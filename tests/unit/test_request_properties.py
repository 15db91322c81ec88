"""Properties of upgrade requests: the validator and the JSON Schema agree on every document,
valid documents round-trip canonically, and the texts for support stay safe and short.

The schema tests need jsonschema (compiled rpds-py), so they are ``cpython_only`` and import it
inside the test: this module still imports inside Pyodide.
"""

from __future__ import annotations

import json
import unicodedata
from datetime import UTC, datetime
from functools import cache
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

import pytest
from hypothesis import assume, event, given
from hypothesis import strategies as st

from access_checker.policy import Policy, default_policy
from access_checker.request import (
    EMAIL_LOCAL_MAX,
    KIND,
    MAILTO_MAX,
    from_document,
    json_filename,
    json_schema,
    mailto_url,
    outputs,
    summary_text,
    to_json,
    validate_document,
    validate_form,
)

POLICY: Policy = default_policy()
PROJECT_IDS = [p.id for p in POLICY.projects]
FEATURE_IDS = [f.id for f in POLICY.features]
LEVEL_IDS = [level.id for level in POLICY.levels]
TEXT_KEYS = ("name", "email", "institution", "why", "planned_use", "heard_from")
MULTILINE = ("why", "planned_use")
ABSENT = object()


@cache
def schema_validator() -> Any:
    from jsonschema import Draft202012Validator  # type: ignore[import-untyped]

    schema = json_schema(POLICY)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


# ---------------------------------------------------------------------------------------------
# Characters and texts

BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
SPACES = " \u00a0\u1680\u2000\u2005\u200a\u202f\u205f\u3000"
# Characters on both sides of every rule, and some that look harmless but are not (or vice versa).
BOUNDARY = (
    "\x00\x08\t\n\x0b\x0c\r\x1b\x1f \x7f\x80\x85\x9f\xa0\u1680\u200b\u200c\u200d\u200e\u200f\u2028\u2029"
    + BIDI + "\u206a\u3000\ufeff\ufffd\ud800\udbff\udc00\udfff\u0301\u0958e@.-_+'\"()<>[]\\,;:é👩🔬\U0010fffd"
)
safe_char = st.characters(
    exclude_categories=("Cs", "Cc", "Zs", "Zl", "Zp"), exclude_characters=BIDI
) | st.sampled_from(["é", "\u0301", "\u200d", "\u200c", "👩", "🔬", "\u05d0", "\u0958", "\ufeff", "\u061c", "@", "."])
any_char = st.characters(codec=None) | st.sampled_from(BOUNDARY) | st.integers(0xD800, 0xDFFF).map(chr)


def clean_text(minimum: int, maximum: int, multiline: bool = False) -> st.SearchStrategy[str]:
    """Valid canonical text: trimmed, no rejected characters, ``minimum``–``maximum`` code points.

    Long texts repeat a short random chunk, so reaching 4,000 code points stays cheap.
    """
    inner = safe_char | st.sampled_from(SPACES + ("\n\t" if multiline else ""))
    sizes = st.integers(minimum, min(maximum, minimum + 12)) | st.integers(max(minimum, maximum - 3), maximum)

    def build(size: int, first: str, last: str, chunk: str) -> str:
        if size == 1:
            return first
        middle = (chunk * (size // len(chunk) + 1))[: size - 2]
        return first + middle + last

    return st.builds(build, sizes, safe_char, safe_char, st.text(inner, min_size=1, max_size=12))


def nasty_text(maximum: int) -> st.SearchStrategy[str]:
    """Text that breaks some rule more often than not, with lengths around the bounds."""
    pieces = st.text(any_char | safe_char, max_size=12)
    sizes = st.sampled_from([0, 1, 2, 19, 20, 21, maximum - 1, maximum, maximum + 1])

    def at_size(chunk: str, size: int) -> str:
        return (chunk * (size // max(len(chunk), 1) + 1))[:size] if chunk else "x" * size

    return pieces | st.builds(at_size, pieces, sizes) | st.builds(
        lambda a, b, c: a + b + c, st.sampled_from(["", " ", "\n", "\t", "\u3000"]), clean_text(1, 30, True),
        st.sampled_from(["", " ", "\n", "\r\n", "\u2028", "\x00", "\u202e"]),
    )


atom_char = st.sampled_from("abcxyzABC0129!#$%&'*+/=?^_`{|}~-üñ用é")
label_char = st.sampled_from("abcxyz0129Züñ例")
label = st.builds(
    lambda a, hyphen, b: a + hyphen + b if b else a,
    st.text(label_char, min_size=1, max_size=8), st.sampled_from(["", "-", "--"]), st.text(label_char, max_size=8),
)
emails = st.builds(
    lambda local, domain: f"{local}@{domain}",
    st.lists(st.text(atom_char, min_size=1, max_size=10), min_size=1, max_size=3).map(".".join),
    st.lists(label, min_size=2, max_size=4).map(".".join),
).filter(lambda e: len(e) <= 254 and e.index("@") <= EMAIL_LOCAL_MAX)
near_emails = st.builds(
    lambda a, b, c, d: a + b + c + d,
    st.sampled_from(["", "a", "a.", ".a", "a..b", "a b", "a\"b", "ü" * 65, "a" * 64]),
    st.sampled_from(["@", "", "@@", " @"]),
    st.sampled_from(["", "b", "-b", "b-", "b_c", "ñ", "b" * 64, "[1.2.3.4]"]),
    st.sampled_from(["", ".org", ".org.", "..org", ".o-rg", ".例", ".org\n", ".c-"]),
) | st.builds(lambda e, s: e + s, emails, st.sampled_from(["", " ", "\n", "x" * 250]))

issuers = st.sampled_from([
    "https://login.cloud.ai4eosc.eu/realms/ai4eosc", "https://aai.egi.eu/auth/realms/egi", "http://127.0.0.1:9400",
    "http://127.0.0.1", "http://127.0.0.1/realms/x?y=1#z", "https://例え.jp",
])
near_issuers = issuers | st.sampled_from([
    "http://example.org", "http://127.0.0.1.nip.io", "http://127.0.0.1@evil.org", "https://", "https:///x", "ftp://a.b",
    "https://a b", "HTTPS://A.B", "http://127.0.0.1:123456", "https://a.b/\u202e", "https://a.b\n", "",
]) | st.builds(lambda s: "https://" + s, nasty_text(255))


def timestamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


created_values = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)).map(timestamp)
near_created = created_values | st.builds(
    lambda y, m, d, h: f"{y:04d}-{m:02d}-{d:02d}T{h:02d}:00:00Z",
    st.integers(0, 9999), st.integers(0, 13), st.integers(0, 32), st.integers(0, 24),
) | st.sampled_from(["2025-06-01T12:30:05", "2025-06-01T12:30:05.1Z", "2025-06-01T12:30:05+00:00", "2025-06-01T12:30:60Z"])
uuids = st.uuids(version=4).map(str)
near_uuids = uuids | st.uuids().map(str) | st.uuids().map(lambda u: str(u).upper()) | st.uuids().map(lambda u: u.hex)


def ids(known: list[str]) -> st.SearchStrategy[list[str]]:
    return st.lists(st.sampled_from(known), min_size=1, unique=True)


def whole(low: int, high: int) -> st.SearchStrategy[int | float]:
    return st.integers(low, high) | st.integers(low, high).map(float)


accounts = st.fixed_dictionaries({
    "self_reported": st.booleans(),
    "subject": st.none() | clean_text(1, 255),
    "issuer": st.none() | issuers,
    "identity_provider": st.none() | clean_text(1, 100),
    "levels": st.dictionaries(st.sampled_from(PROJECT_IDS), st.sampled_from(LEVEL_IDS)),
})


def document(account: object, **values: object) -> dict[str, object]:
    doc = dict(values)
    if account is not ABSENT:
        doc["account"] = account
    return doc


valid_documents = st.builds(
    document,
    account=st.just(ABSENT) | st.none() | accounts,
    kind=st.just(KIND),
    version=st.just(1) | st.just(1.0),
    id=uuids,
    created=created_values,
    policy=st.just(POLICY.version) | clean_text(1, 100),
    name=clean_text(1, 200),
    email=emails,
    institution=clean_text(1, 200),
    projects=ids(PROJECT_IDS),
    features=ids(FEATURE_IDS),
    why=clean_text(20, 4000, multiline=True),
    planned_use=clean_text(20, 4000, multiline=True),
    resources=st.fixed_dictionaries({"gpus": whole(0, 2), "storage_gb": whole(0, 500)}),
    duration_months=whole(1, 24),
    heard_from=clean_text(1, 500),
    accepted_aup=st.just(True),
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(any_char, max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
near_numbers = st.integers(-3, 30) | st.sampled_from([2.0, 2.5, -0.0, 1e300, float("inf"), True, False, "2", None, 10**30])
near_ids = st.lists(
    st.sampled_from([*PROJECT_IDS, *FEATURE_IDS, "", "AI4EOSC", 1, None]), max_size=5
) | json_values

TOP_REPLACEMENTS: dict[str, st.SearchStrategy[object]] = {
    "kind": st.sampled_from([KIND, KIND.upper(), "", None, 1]),
    "version": st.sampled_from([1, 1.0, 1.5, 2, 0, "1", True, None]),
    "id": near_uuids,
    "created": near_created,
    "policy": nasty_text(100),
    "name": nasty_text(200),
    "email": near_emails | nasty_text(254),
    "institution": nasty_text(200),
    "projects": near_ids,
    "features": near_ids,
    "why": nasty_text(4000),
    "planned_use": nasty_text(4000),
    "resources": st.fixed_dictionaries({}, optional={"gpus": near_numbers, "storage_gb": near_numbers, "cpus": near_numbers}),
    "duration_months": near_numbers,
    "heard_from": nasty_text(500),
    "accepted_aup": st.sampled_from([True, False, 1, "true", None]),
    "account": st.fixed_dictionaries({}, optional={
        "self_reported": st.booleans() | json_values,
        "subject": st.none() | nasty_text(255),
        "issuer": st.none() | near_issuers,
        "identity_provider": st.none() | nasty_text(100),
        "levels": st.dictionaries(st.sampled_from([*PROJECT_IDS, "x"]), st.sampled_from([*LEVEL_IDS, "x", 1])) | json_values,
        "extra": json_values,
    }) | accounts | json_values,
}


BOUNDS: dict[str, tuple[int, int]] = {
    "policy": (1, 100), "name": (1, 200), "email": (1, 254), "institution": (1, 200), "why": (20, 4000),
    "planned_use": (20, 4000), "heard_from": (1, 500), "subject": (1, 255), "issuer": (1, 255),
    "identity_provider": (1, 100), "id": (36, 36), "created": (20, 20),
}
edit_char = st.sampled_from(BOUNDARY + SPACES) | safe_char
ACCOUNT_TEXTS = ("subject", "issuer", "identity_provider")


def resized(text: str, size: int) -> str:
    return (text * (size // max(len(text), 1) + 1))[: max(size, 0)]


def date_like(year: int, month: int, day: int, hour: int) -> str:
    return f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:59:59Z"


@st.composite
def mutated_documents(draw: st.DrawFn) -> dict[str, object]:
    """A valid document with one or two targeted changes, each aimed at one rule.

    Each change usually breaks its rule but sometimes keeps the document valid: both outcomes
    test the agreement between the validator and the schema.
    """
    doc = draw(valid_documents)
    account = draw(accounts)
    for _ in range(draw(st.integers(1, 2))):
        # Hypothesis favours the first choices; the subtle rules come first so they get their share.
        rule = draw(st.sampled_from([
            "issuer", "email-local", "created-date", "list-edit", "text-char", "email-shape", "account-keys",
            "levels", "text-length", "account-text", "id", "created-shape", "number", "kind-version",
            "top-keys", "junk",
        ]))
        event(f"mutation: {rule}")
        key = draw(st.sampled_from([*TEXT_KEYS, "policy"]))
        if rule == "text-char":
            text = str(doc[key])
            position = draw(st.sampled_from([0, len(text)]) | st.integers(0, len(text)))
            doc[key] = text[:position] + draw(edit_char) + text[position + draw(st.integers(0, 1)):]
        elif rule == "text-length":
            low, high = BOUNDS[key]
            doc[key] = resized(str(doc[key]), draw(st.sampled_from([low - 1, low, high, high + 1])))
        elif rule == "email-local":
            local, _, domain = str(doc["email"]).partition("@")
            doc["email"] = local.ljust(draw(st.integers(60, 70)), draw(st.sampled_from("aü."))) + "@" + domain
        elif rule == "email-shape":
            doc["email"] = draw(near_emails)
        elif rule == "id":
            doc["id"] = draw(near_uuids)
        elif rule == "created-date":
            doc["created"] = draw(st.builds(
                date_like, st.sampled_from([0, 1900, 2000, 2023, 2024, 2100, 9999]) | st.integers(0, 9999),
                st.integers(0, 13), st.integers(27, 32) | st.integers(0, 31), st.sampled_from([0, 23, 24]),
            ))
        elif rule == "created-shape":
            doc["created"] = draw(near_created)
        elif rule == "list-edit":
            name = draw(st.sampled_from(["projects", "features"]))
            value = doc[name]
            items: list[object] = list(value) if isinstance(value, list) and value else ["x"]
            how = draw(st.sampled_from(["duplicate", "drop", "add", "reverse"]))
            if how == "duplicate":
                items.insert(draw(st.integers(0, len(items))), draw(st.sampled_from(items)))
            elif how == "drop":
                items.pop()
            elif how == "add":
                items.append(draw(st.sampled_from([*PROJECT_IDS, *FEATURE_IDS, "x", "", 1, None])))
            else:
                items.reverse()
            doc[name] = items
        elif rule == "number":
            where = draw(st.sampled_from(["gpus", "storage_gb", "duration_months"]))
            value = draw(near_numbers | st.sampled_from([499, 500, 501, 24, 25, 500.0, 24.0]))
            if where == "duration_months":
                doc[where] = value
            else:
                resources = doc["resources"]
                doc["resources"] = {**(resources if isinstance(resources, dict) else {}), where: value}
        elif rule == "issuer":
            doc["account"] = {**account, "issuer": draw(near_issuers)}
        elif rule == "account-text":
            name = draw(st.sampled_from(ACCOUNT_TEXTS))
            doc["account"] = {**account, name: draw(st.none() | nasty_text(BOUNDS[name][1]))}
        elif rule == "account-keys":
            changed: dict[str, object] = dict(account)
            if draw(st.booleans()):
                changed.pop(draw(st.sampled_from(sorted(changed))))
            else:
                changed[draw(st.sampled_from(["extra", "sub", "levels"]))] = draw(json_values)
            doc["account"] = changed
        elif rule == "levels":
            doc["account"] = {**account, "levels": draw(st.dictionaries(
                st.sampled_from([*PROJECT_IDS, "x", ""]), st.sampled_from([*LEVEL_IDS, "x", 1, None]), max_size=4,
            ))}
        elif rule == "kind-version":
            doc[draw(st.sampled_from(["kind", "version"]))] = draw(st.sampled_from([KIND, KIND.upper(), 1, 1.0, 1.5, 2, "1", True]))
        elif rule == "top-keys":
            if draw(st.booleans()):
                doc.pop(draw(st.sampled_from(list(TOP_REPLACEMENTS))), None)
            else:
                doc[draw(st.sampled_from(["extra", "Name", "$schema"]))] = draw(json_values)
        else:
            where = draw(st.sampled_from(list(TOP_REPLACEMENTS)))
            doc[where] = draw(TOP_REPLACEMENTS[where] | json_values)
    return doc


def agree(doc: object) -> bool:
    """Asserts that the validator and the schema give the same verdict, and returns it."""
    problems = validate_document(doc, POLICY)
    schema_ok: bool = schema_validator().is_valid(doc)
    assert (problems == []) == schema_ok, (problems, next(iter(schema_validator().iter_errors(doc)), None))
    return schema_ok


ACCOUNT: dict[str, object] = {
    "self_reported": False, "subject": "1234@egi.eu", "issuer": "https://aai.egi.eu/auth/realms/egi",
    "identity_provider": "EGI Check-in", "levels": {"imagine": "full"},
}
EXAMPLE: dict[str, object] = {
    "kind": KIND, "version": 1, "id": "0f8fad5b-d9cb-469f-a165-70867728950e", "created": "2025-06-01T12:30:05Z",
    "policy": POLICY.version, "name": "Ada", "email": "ada@example.org", "institution": "Engines",
    "projects": PROJECT_IDS, "features": FEATURE_IDS, "why": "w" * 4000, "planned_use": "p" * 4000,
    "resources": {"gpus": 2, "storage_gb": 500}, "duration_months": 24, "heard_from": "h" * 500, "accepted_aup": True,
    "account": {"self_reported": True, "subject": "s" * 255, "issuer": None, "identity_provider": "i" * 100,
                "levels": {"ai4eosc": "basic"}},
}

# ---------------------------------------------------------------------------------------------
# Validator and schema


# (key, value, valid?) around every rule, including the regex-dialect traps (a final "\n").
EDGE_CASES: list[tuple[str, object, bool]] = [
    ("name", "Ada\n", False), ("name", "\nAda", False), ("name", "Ada\r", False), ("name", "Ada\u2028", False),
    ("name", "a" * 200, True), ("name", "a" * 201, False), ("name", "Ada\ud800", False), ("name", "Ada\u202eX", False),
    ("name", "👩\u200d🔬", True), ("name", " Ada", False), ("name", "Ada\u3000", False), ("name", "Ada\ufeff", True),
    ("name", "Ada\u200b", True), ("name", "Ada\u0085", False), ("name", "e\u0301" * 100, True),
    ("why", "x" * 20 + "\n", False), ("why", "x" * 10 + "\r\n" + "y" * 10, False),
    ("why", "x" * 10 + "\n\t" + "y" * 10, True), ("why", "\t" + "x" * 20, False),
    ("email", "a" * 64 + "@b.cd", True), ("email", "a" * 65 + "@b.cd", False), ("email", "a@b.cd\n", False),
    ("email", "a@b.c-", False), ("email", "a@b.c", True), ("email", "a@例.jp", True), ("email", "a@b..c", False),
    ("email", "a\u3000b@c.de", False),
    ("created", "2023-02-29T00:00:00Z", False), ("created", "2024-02-29T00:00:00Z", True),
    ("created", "1900-02-29T00:00:00Z", False), ("created", "2000-02-29T00:00:00Z", True),
    ("created", "0000-02-29T00:00:00Z", True), ("created", "2025-06-01T12:30:05Z\n", False),
    ("id", "0f8fad5b-d9cb-469f-a165-70867728950e\n", False), ("id", "0F8FAD5B-D9CB-469F-A165-70867728950E", False),
    ("projects", ["ai4eosc", "ai4eosc"], False), ("projects", ["ai4life", "ai4eosc"], True), ("projects", [], False),
    ("resources", {"gpus": 2.0, "storage_gb": 500}, True), ("resources", {"gpus": 2.5, "storage_gb": 0}, False),
    ("resources", {"gpus": True, "storage_gb": 0}, False), ("version", 1.0, True), ("version", True, False),
    ("accepted_aup", 1, False), ("duration_months", 24.0, True), ("duration_months", float("nan"), False),
    ("policy", "", False), ("policy", " x", False), ("policy", "x" * 101, False),
    ("account", None, True), ("account", {**ACCOUNT, "issuer": "http://example.org"}, False),
    ("account", {**ACCOUNT, "issuer": "http://127.0.0.1:9400/realms/demo"}, True),
    ("account", {**ACCOUNT, "issuer": "https://a.b\n"}, False), ("account", {**ACCOUNT, "levels": {"x": "full"}}, False),
    ("account", {**ACCOUNT, "levels": {"ai4eosc": "x"}}, False), ("account", {**ACCOUNT, "extra": 1}, False),
    ("account", {k: v for k, v in ACCOUNT.items() if k != "levels"}, False), ("account", {**ACCOUNT, "subject": ""}, False),
    ("account", {**ACCOUNT, "self_reported": 1}, False), ("extra", 1, False),
]


@pytest.mark.cpython_only
@pytest.mark.parametrize(("key", "value", "valid"), EDGE_CASES)
def test_validator_and_schema_agree_on_edge_cases(key: str, value: object, valid: bool) -> None:
    assert agree({**EXAMPLE, key: value}) is valid


@pytest.mark.parametrize(("key", "value", "valid"), EDGE_CASES)
def test_edge_cases_without_the_schema(key: str, value: object, valid: bool) -> None:
    assert (validate_document({**EXAMPLE, key: value}, POLICY) == []) is valid




@given(valid_documents)
def test_valid_documents_are_valid(doc: dict[str, object]) -> None:
    assert validate_document(doc, POLICY) == []


@pytest.mark.cpython_only
@given(valid_documents)
def test_schema_accepts_valid_documents(doc: dict[str, object]) -> None:
    assert schema_validator().is_valid(doc)


@pytest.mark.cpython_only
@given(mutated_documents())
def test_validator_and_schema_agree_on_mutated_documents(doc: dict[str, object]) -> None:
    event("valid" if agree(doc) else "invalid")


@pytest.mark.cpython_only
@given(json_values | st.builds(dict, st.dictionaries(st.sampled_from(list(TOP_REPLACEMENTS)), json_values)))
def test_validator_and_schema_agree_on_any_json(doc: object) -> None:
    event("valid" if agree(doc) else "invalid")


@given(json_values)
def test_any_json_is_checked_without_raising(doc: object) -> None:
    assert all(p.field and p.message for p in validate_document(doc, POLICY))


# ---------------------------------------------------------------------------------------------
# Canonical JSON


def canonical(doc: dict[str, object]) -> str:
    """What to_json must write for a valid document, computed independently of the module."""
    out = {key: doc[key] for key in (
        "kind", "version", "id", "created", "policy", "name", "email", "institution", "projects", "features",
        "why", "planned_use", "resources", "duration_months", "heard_from", "accepted_aup",
    )}
    out["version"] = 1
    out["projects"] = [p for p in PROJECT_IDS if p in doc["projects"]]  # type: ignore[operator]
    out["features"] = [f for f in FEATURE_IDS if f in doc["features"]]  # type: ignore[operator]
    resources = doc["resources"]
    assert isinstance(resources, dict)
    out["resources"] = {"gpus": int(resources["gpus"]), "storage_gb": int(resources["storage_gb"])}
    out["duration_months"] = int(doc["duration_months"])  # type: ignore[call-overload]
    account = doc.get("account")
    if isinstance(account, dict):
        levels = account["levels"]
        account = {
            **{key: account[key] for key in ("self_reported", "subject", "issuer", "identity_provider")},
            "levels": {p: levels[p] for p in PROJECT_IDS if p in levels},
        }
    out["account"] = account
    return json.dumps(out, ensure_ascii=False, indent=2) + "\n"


@given(valid_documents)
def test_round_trip_is_canonical(doc: dict[str, object]) -> None:
    request = from_document(doc, POLICY)
    text = to_json(request)
    assert text == canonical(doc)
    assert from_document(json.loads(text), POLICY) == request


# ---------------------------------------------------------------------------------------------
# The form


def form_of(doc: dict[str, object]) -> dict[str, object]:
    resources = doc["resources"]
    assert isinstance(resources, dict)
    return {
        **{key: doc[key] for key in TEXT_KEYS},
        "projects": doc["projects"], "features": doc["features"],
        "resources.gpus": str(int(resources["gpus"])), "resources.storage_gb": str(int(resources["storage_gb"])),
        "duration_months": str(int(doc["duration_months"])),  # type: ignore[call-overload]
        "accepted_aup": "on",
    }


@given(valid_documents)
def test_form_and_document_agree(doc: dict[str, object]) -> None:
    """The form and the document path make the same request from the same (NFC) values."""

    def nfc(value: object) -> object:
        return unicodedata.normalize("NFC", value) if isinstance(value, str) else value

    doc = {**doc, **{key: nfc(doc[key]) for key in TEXT_KEYS}}
    account = doc.get("account")
    if isinstance(account, dict):
        account = {key: nfc(value) for key, value in account.items()}
        doc["account"] = account
    # NFC can shorten or (rarely) lengthen a text past a bound; such documents prove nothing here.
    assume(validate_document(doc, POLICY) == [])
    moment = datetime.strptime(str(doc["created"]), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    result = validate_form(
        form_of(doc), POLICY, account=account if isinstance(account, dict) else None,
        clock=lambda: moment, new_id=lambda: str(doc["id"]),
    )
    assert result.errors == {}
    assert result.request == from_document({**doc, "policy": POLICY.version}, POLICY)


@st.composite
def forms(draw: st.DrawFn) -> dict[str, object]:
    form = form_of(draw(valid_documents))
    for key in draw(st.lists(st.sampled_from(list(form)), max_size=3, unique=True)):
        if key in TEXT_KEYS:
            form[key] = draw(nasty_text(500 if key not in MULTILINE else 4000) | near_emails)
        elif key in ("projects", "features"):
            form[key] = draw(near_ids)
        else:
            form[key] = draw(st.text(st.sampled_from("0123456789 .-+x٢"), max_size=4) | near_numbers)
    return form


@given(forms())
def test_what_the_form_accepts_is_a_valid_document(form: dict[str, object]) -> None:
    result = validate_form(form, POLICY)
    event("form ok" if result.ok else "form rejected")
    assert (result.request is None) == bool(result.errors)
    if result.request is not None:
        assert validate_document(json.loads(to_json(result.request)), POLICY) == []
        assert all(unicodedata.is_normalized("NFC", getattr(result.request, key)) for key in TEXT_KEYS)


# ---------------------------------------------------------------------------------------------
# What support reads

LABELS = (
    "Subject:", "Name:", "E-mail:", "Institution:", "Projects:", "Features:", "GPUs:", "Storage:", "Duration:",
    "Heard about the platform from:", "Acceptable use policy:", "Why full access is needed:", "Planned use:",
    "Account", "Request id:", "Created:", "Policy version:", "The same request as JSON",
)


def hostile(text: str) -> str:
    return f"{text}\nName: admin\nRequest id: 0\n\nAccount: none"


@given(valid_documents, st.booleans())
def test_summary_lines_start_only_with_labels(doc: dict[str, object], attack: bool) -> None:
    if attack:
        doc = {**doc, "why": hostile(str(doc["why"]))[:4000].rstrip(), "planned_use": hostile("Planned: x" * 3)}
        assume(validate_document(doc, POLICY) == [])
    request = from_document(doc, POLICY)
    text = summary_text(request, POLICY)
    unindented = [line for line in text.split("\n") if line and not line.startswith("  ")]
    assert [line for line in unindented if not line.startswith(LABELS)] == []
    assert len(unindented) == len(LABELS)
    text.encode("utf-8")


def decoded_body(url: str) -> str:
    return parse_qs(urlsplit(url).query, strict_parsing=True)["body"][0]


@given(valid_documents)
def test_mailto_always_fits(doc: dict[str, object]) -> None:
    request = from_document(doc, POLICY)
    url, shortened = mailto_url(request, POLICY)
    assert len(url) <= MAILTO_MAX
    assert unquote(urlsplit(url).path) == POLICY.support.email
    body = decoded_body(url)
    full = summary_text(request, POLICY).replace("\n", "\r\n")
    event("full body" if body == full else "short body")
    assert shortened == (body != full)
    if body != full:
        assert request.id in body and json_filename(request) in body


clusters = st.sampled_from(["👩\u200d🔬", "🇪🇸", "e\u0301", "ü", "用", "\U0010fffd", "a"])


@given(
    clean_text(150, 200) | st.lists(clusters, min_size=60, max_size=200).map(lambda parts: "".join(parts)[:200]),
    st.sampled_from(["ü" * 64 + "@" + ".".join(["ñ" * 60] * 3) + ".es", "a@b.cd"]),
)
def test_mailto_fits_with_extreme_names(name: str, email: str) -> None:
    request = from_document({**EXAMPLE, "name": name, "email": email}, POLICY)
    url = mailto_url(request, POLICY).url
    assert len(url) <= MAILTO_MAX
    body = decoded_body(url)
    assert request.id in body and "attach" in body
    shown = next(line for line in body.split("\r\n") if line.startswith("Name: "))[len("Name: "):]
    assert shown == name or (shown.endswith("…") and name.startswith(shown[:-1]))


@given(st.text(), st.sampled_from(["", "@", "/:@"]))
def test_percent_encoding_is_urllib_quote(text: str, safe: str) -> None:
    """The mailto link's encoder is written out (the browser's stdlib leaves urllib.parse out)."""
    assert outputs._percent(text, safe) == quote(text, safe=safe, errors="replace")
