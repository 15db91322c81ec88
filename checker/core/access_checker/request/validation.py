"""Checking requests against the fields table: documents exactly, the form as a reader types.

Documents. A text must already be trimmed and use ``\\n`` only; it is checked as written and
not required to be NFC, because NFC-equivalent texts look the same and JSON Schema cannot
express normalisation. Lengths count code points. Numbers must be JSON integers (not strings
or booleans); as in JSON Schema, a number with a zero fraction such as ``2.0`` is the integer
2. Ids may be listed in any order; the request keeps the policy's. Problems come in table
order, one per field (and one per bad list item or key); checking never raises.

The form is read by :mod:`~access_checker.request.form_reader` (normalised text, the
strings of HTML inputs); :func:`validate_form` adds the account context and the stamps.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Final

from access_checker.policy import Policy
from access_checker.request.document import converted, document_of, plain, record_of, typed
from access_checker.request.fields import FIELDS, Field, Kind, context_field, fields_for
from access_checker.request.form_reader import in_order, json_int, read_form
from access_checker.request.model import Account, AccountCheck, FormResult, Problem, RequestError, UpgradeRequest
from access_checker.request.prepared import for_the_last, per_object
from access_checker.request.text_checks import matches, text_problem
from access_checker.text import normalise, quoted

_BAD: Final = object()  # a value that has a problem (the problem is recorded)
_PLAIN_KEY: Final = re.compile("[A-Za-z0-9_$-]{1,40}")


def _key(key: object) -> str:
    """A key for a problem's path: as is when plain, else quoted like a JSON string."""
    return key if isinstance(key, str) and _PLAIN_KEY.fullmatch(key) else quoted(key)


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


# ---------------------------------------------------------------------------------------------
# Documents


def _problem(out: list[Problem], path: str, message: str) -> object:
    out.append(Problem(path, message))
    return _BAD


Check = Callable[[Field, object, str, list[Problem]], object]
"""Checks a value of a field (not None when the field is nullable): the checked value (JSON
data, ids in policy order), or _BAD with the problems added to the list."""


def _check(f: Field, value: object, path: str, out: list[Problem]) -> object:
    if value is None and f.nullable:
        return None
    return _CHECKS[f.kind](f, value, path, out)


def _check_constant(f: Field, value: object, path: str, out: list[Problem]) -> object:
    same = json_int(value) == f.value if isinstance(f.value, int) else isinstance(value, str) and value == f.value
    return f.value if same else _problem(out, path, f.invalid)


def _check_token(f: Field, value: object, path: str, out: list[Problem]) -> object:
    if not (isinstance(value, str) and f.minimum <= len(value) <= f.maximum):
        return _problem(out, path, f.rules[0][1])
    failed = next((message for pattern, message in f.rules if not matches(pattern, value)), None)
    return value if failed is None else _problem(out, path, failed)


def _check_text(f: Field, value: object, path: str, out: list[Problem]) -> object:
    if not isinstance(value, str):
        if f.nullable:
            return _problem(out, path, "Must be a string or null.")
        return _problem(out, path, "Must be a string." if value is not None else "Must be a string, not null.")
    message = text_problem(value, f, canonical=True)
    return value if message is None else _problem(out, path, message)


def _check_integer(f: Field, value: object, path: str, out: list[Problem]) -> object:
    number = json_int(value)
    if number is None:
        return _problem(out, path, f"Must be a JSON integer (a whole number without quotes) from {f.minimum} to {f.maximum}.")
    if not f.minimum <= number <= f.maximum:
        return _problem(out, path, f"Must be a whole number from {f.minimum} to {f.maximum}.")
    return number


def _check_accept(f: Field, value: object, path: str, out: list[Problem]) -> object:
    return True if value is True else _problem(out, path, f.invalid)


def _check_boolean(f: Field, value: object, path: str, out: list[Problem]) -> object:
    return value if isinstance(value, bool) else _problem(out, path, "Must be true or false.")


def _check_object(f: Field, value: object, path: str, out: list[Problem]) -> object:
    if not isinstance(value, dict):
        return _problem(out, path, f.invalid or f"Must be an object with {' and '.join(c.name for c in f.children)}.")
    before = len(out)
    members = _members(f.children, value, path, out)
    return members if len(out) == before else _BAD


def _check_choices(f: Field, value: object, path: str, out: list[Problem]) -> object:
    known = [c.value for c in f.choices]
    what, listed = f.noun, ", ".join(known)
    if not isinstance(value, list):
        return _problem(out, path, f"Must be a list of {what} ids ({listed}).")
    if len(value) < max(f.minimum, 1):
        return _problem(out, path, f"List at least one {what}.")
    before = len(out)
    seen: list[str] = []
    for index, item in enumerate(value):
        where = f"{path}[{index}]"
        if not isinstance(item, str) or item not in known:
            out.append(Problem(where, f"Unknown {what} {quoted(item)}; use one of: {listed}."))
        elif item in seen:
            out.append(Problem(where, f"The {what} {quoted(item)} is listed twice; list it once."))
        else:
            seen.append(item)
    return in_order(seen, known) if len(out) == before else _BAD


@per_object  # the form checks the account's levels on every key stroke
def _level_ids(f: Field) -> tuple[list[str], list[str]]:
    """A project-levels field's project ids and level ids."""
    return [k.value for k in f.keys], [c.value for c in f.choices]


def _check_levels(f: Field, value: object, path: str, out: list[Problem]) -> object:
    if not isinstance(value, dict):
        return _problem(out, path, f.invalid)
    projects, levels = _level_ids(f)
    before = len(out)
    for key, level in value.items():
        where = f"{path}.{_key(key)}"
        if not isinstance(key, str) or key not in projects:
            out.append(Problem(where, f"Unknown project {quoted(key)}; use one of: {', '.join(projects)}."))
        elif not isinstance(level, str) or level not in levels:
            out.append(Problem(where, f"Unknown level {quoted(level)}; use one of: {', '.join(levels)}."))
    return {p: value[p] for p in projects if p in value} if len(out) == before else _BAD


def _members(children: tuple[Field, ...], value: Mapping[object, object], path: str, out: list[Problem]) -> dict[str, object]:
    """Checks an object's members in table order, then reports the keys the table lacks."""
    clean: dict[str, object] = {}
    for c in children:
        where = _join(path, c.name)
        if c.name in value:
            clean[c.name] = _check(c, value[c.name], where, out)
        elif c.optional:
            clean[c.name] = None
        else:
            clean[c.name] = _problem(out, where, "This field is missing.")
    names = {c.name for c in children}
    for key in value:
        if key not in names:
            out.append(Problem(_join(path, _key(key)), "Unknown field; remove it."))
    return clean


_CHECKS: Final[dict[Kind, Check]] = {
    "constant": _check_constant, "token": _check_token, "line": _check_text, "email": _check_text,
    "paragraphs": _check_text, "choices": _check_choices, "integer": _check_integer, "accept": _check_accept,
    "boolean": _check_boolean, "project-levels": _check_levels, "object": _check_object,
}


def check_document(doc: object, fields: tuple[Field, ...]) -> tuple[list[Problem], dict[str, object] | None]:
    """The problems of a parsed JSON document, and its checked values when there are none."""
    if not isinstance(doc, dict):
        return [Problem("(document)", "Must be a JSON object: an AI4OS access upgrade request.")], None
    out: list[Problem] = []
    values = _members(fields, doc, "", out)
    return (out, None) if out else ([], values)


def validate_document(doc: object, policy: Policy) -> list[Problem]:
    """The problems of a parsed JSON document, in model order; ``[]`` when it is valid.

    Never raises, whatever JSON value (or Python object) it is given.
    """
    return check_document(doc, fields_for(policy))[0]


def from_document(doc: object, policy: Policy) -> UpgradeRequest:
    """The request a valid document holds; raises RequestError listing its problems."""
    fields = fields_for(policy)
    problems, values = check_document(doc, fields)
    if values is None:
        raise RequestError(problems)
    return record_of(values, fields)


# ---------------------------------------------------------------------------------------------
# The form


@for_the_last  # the form checks the account on every key stroke
def _account_plan(fields: tuple[Field, ...]) -> tuple[Field, tuple[tuple[Field, str, bool], ...], frozenset[str]]:
    """The context field, its children with their paths (and whether typed() changes their
    values), and their names."""
    f = context_field(fields)
    return f, tuple((c, _join(f.name, c.name), converted(c)) for c in f.children), frozenset(c.name for c in f.children)


def check_account(account: Account | Mapping[str, object], policy: Policy) -> AccountCheck:
    """Check an account context as the form does (see :class:`AccountCheck`).

    A mapping has the document's keys; a missing key means the field's default, so nothing
    claims to come from a sign-in unless the caller says so. Texts are normalised first, and
    an empty one counts as no value.
    """
    f, children, names = _account_plan(fields_for(policy))
    raw: Mapping[str, object] = document_of(account, f.children) if isinstance(account, tuple) else account
    out: list[Problem] = []
    clean: list[object] = []
    for c, where, convert in children:  # each one present (a missing key means its default)
        value = raw.get(c.name, c.default)
        if isinstance(value, str):
            if c.nullable:
                value = normalise(value, False) or None
        elif value is not None and type(value) is not dict and not isinstance(value, bool) and isinstance(value, Mapping):
            value = dict(value)  # the checks take dicts
        checked = _check(c, value, where, out)
        if checked is _BAD:
            checked = c.default
        clean.append(typed(c, checked) if convert else checked)
    if not names.issuperset(raw):
        for key in raw:
            if key not in names:
                out.append(Problem(_join(f.name, _key(key)), "Unknown field; remove it."))
    errors: dict[str, str] = {}
    for problem in out:
        errors.setdefault(problem.field, problem.message)
    # Positional: a test holds each record's attributes in its table's order.
    carried = f.record(*clean) if f.record is not None else None
    assert isinstance(carried, Account)
    return AccountCheck(carried, errors)


# ---------------------------------------------------------------------------------------------
# Making requests


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _random_id() -> str:
    return str(uuid.uuid4())


def _timestamp(moment: datetime) -> str:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("the clock must return an aware datetime")
    # isoformat, not strftime: strftime does not zero-pad years below 1000 on every platform.
    return moment.astimezone(UTC).replace(tzinfo=None, microsecond=0).isoformat() + "Z"


def _stamps(policy: Policy, clock: Callable[[], datetime], new_id: Callable[[], str]) -> dict[str, object]:
    return {"id": new_id(), "created": _timestamp(clock()), "policy": policy.version}


def validate_form(
    form: Mapping[str, object],
    policy: Policy,
    *,
    account: Account | Mapping[str, object] | None = None,
    clock: Callable[[], datetime] = _utc_now,
    new_id: Callable[[], str] = _random_id,
) -> FormResult:
    """Check what the reader typed; on success stamp the request with ``new_id()`` and ``clock()``.

    ``form`` maps input names to what the HTML inputs hold; ``account`` is the account
    context (see :func:`check_account`) or None. Pass a ``new_id`` that returns the draft's
    id to keep one id while the reader edits.
    """
    fields = fields_for(policy)
    errors, values = read_form(form, fields)
    if account is not None:
        check = check_account(account, policy)
        for path, message in check.errors.items():
            errors.setdefault(path, message)
        values[_account_plan(fields)[0].name] = check.account
    if errors:
        return FormResult(errors, None)
    values.update(_stamps(policy, clock, new_id))
    return FormResult({}, record_of(values, fields, typed_already=True))


def new_request(
    policy: Policy,
    answers: Mapping[str, object],
    *,
    account: Account | None = None,
    clock: Callable[[], datetime] = _utc_now,
    new_id: Callable[[], str] = _random_id,
) -> UpgradeRequest:
    """A request from clean answers (keyed as in the document), stamped with a new id, the time
    and the policy version. They are checked with the document rules (no normalisation);
    raises RequestError.
    """
    given = {**answers, **_stamps(policy, clock, new_id)}
    if account is not None:
        given[context_field(FIELDS).name] = account
    return from_document({f.name: plain(f, given.get(f.name)) for f in FIELDS if f.kind == "constant" or f.name in given},
                         policy)
