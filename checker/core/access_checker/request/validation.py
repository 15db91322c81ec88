"""Checking requests against the fields table: documents exactly, the form as a reader types.

Documents. A text must already be trimmed and use ``\\n`` only; it is checked as written and
not required to be NFC, because NFC-equivalent texts look the same and JSON Schema cannot
express normalisation. Lengths count code points. Numbers must be JSON integers (not strings
or booleans); as in JSON Schema, a number with a zero fraction such as ``2.0`` is the integer
2. Ids may be listed in any order; the request keeps the policy's. Problems come in table
order, one per field (and one per bad list item or key); checking never raises.

The form. Text is normalised first (:func:`access_checker.text.normalise`), numbers arrive
as the strings of HTML inputs, a checkbox as a bool or ``"on"``; each input gets at most one
message, keyed by its name (``group.field`` in a group). Fields the form does not know are
ignored.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Final

from access_checker.policy import Policy
from access_checker.request.document import document_of, plain, record_of, typed
from access_checker.request.fields import FIELDS, Field, answer_fields, context_field, fields_for
from access_checker.request.model import Account, AccountCheck, FormResult, Problem, RequestError, UpgradeRequest
from access_checker.text import EDGE_SPACE, STRIP, LazyPattern, normalise, quoted, rejection

_BAD: Final = object()  # a value that has a problem (the problem is recorded)
_CHECKED: Final = frozenset({"on", "true", "yes", "1"})
_DIGITS: Final = LazyPattern("[0-9]{1,12}")
_PLAIN_KEY: Final = re.compile("[A-Za-z0-9_$-]{1,40}")
_TEXTS: Final = ("line", "email", "paragraphs")
_patterns: dict[str, LazyPattern] = {}


def _matches(pattern: str, text: str) -> bool:
    """Whether ``pattern`` matches somewhere in ``text``, as a JSON Schema ``pattern`` does."""
    compiled = _patterns.get(pattern)
    if compiled is None:
        compiled = _patterns[pattern] = LazyPattern(pattern)
    return compiled.search(text) is not None


def _count(n: int) -> str:
    return f"{n:,}"


def _key(key: object) -> str:
    """A key for a problem's path: as is when plain, else quoted like a JSON string."""
    return key if isinstance(key, str) and _PLAIN_KEY.fullmatch(key) else quoted(key)


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def json_int(value: object) -> int | None:
    """The integer a JSON number stands for, as JSON Schema sees it (2.0 is 2; true is not 1)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _in_order(chosen: Sequence[object], order: Sequence[str]) -> list[str]:
    return [i for i in order if i in chosen]


def _text_problem(text: str, f: Field, *, canonical: bool) -> str | None:
    """Checks a text; ``canonical`` texts (documents) must also be trimmed already."""
    problem = rejection(text, f.kind == "paragraphs")
    if problem is not None:
        return problem
    if not text:
        return f.missing or "Must not be empty."
    if canonical and (text[0] in EDGE_SPACE or text[-1] in EDGE_SPACE):
        return "Remove the spaces or line breaks at the start and end."
    if len(text) < f.minimum:
        return f"Write at least {_count(f.minimum)} characters (now {_count(len(text))})."
    if len(text) > f.maximum:
        return f"Shorten this to at most {_count(f.maximum)} characters (now {_count(len(text))})."
    return next((message for pattern, message in f.rules if not _matches(pattern, text)), None)


# ---------------------------------------------------------------------------------------------
# Documents


def _problem(out: list[Problem], path: str, message: str) -> object:
    out.append(Problem(path, message))
    return _BAD


def _check(f: Field, value: object, path: str, out: list[Problem]) -> object:
    """The checked value (JSON data, ids in policy order), or _BAD with the problems in ``out``."""
    if value is None and f.nullable:
        return None
    kind = f.kind
    if kind == "constant":
        same = json_int(value) == f.value if isinstance(f.value, int) else isinstance(value, str) and value == f.value
        return f.value if same else _problem(out, path, f.invalid)
    if kind == "token":
        if not (isinstance(value, str) and f.minimum <= len(value) <= f.maximum):
            return _problem(out, path, f.rules[0][1])
        failed = next((message for pattern, message in f.rules if not _matches(pattern, value)), None)
        return value if failed is None else _problem(out, path, failed)
    if kind in _TEXTS:
        if not isinstance(value, str):
            if f.nullable:
                return _problem(out, path, "Must be a string or null.")
            return _problem(out, path, "Must be a string." if value is not None else "Must be a string, not null.")
        message = _text_problem(value, f, canonical=True)
        return value if message is None else _problem(out, path, message)
    if kind == "choices":
        return _check_choices(f, value, path, out)
    if kind == "integer":
        number = json_int(value)
        if number is None:
            return _problem(out, path, f"Must be a JSON integer (a whole number without quotes) from {f.minimum} to {f.maximum}.")
        if not f.minimum <= number <= f.maximum:
            return _problem(out, path, f"Must be a whole number from {f.minimum} to {f.maximum}.")
        return number
    if kind == "accept":
        return True if value is True else _problem(out, path, f.invalid)
    if kind == "boolean":
        return value if isinstance(value, bool) else _problem(out, path, "Must be true or false.")
    if kind == "project-levels":
        return _check_levels(f, value, path, out)
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
    return _in_order(seen, known) if len(out) == before else _BAD


def _check_levels(f: Field, value: object, path: str, out: list[Problem]) -> object:
    if not isinstance(value, dict):
        return _problem(out, path, f.invalid)
    projects, levels = [k.value for k in f.keys], [c.value for c in f.choices]
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


def _form_value(f: Field, raw: object, path: str, errors: dict[str, str]) -> object:
    if f.kind in _TEXTS:
        text = normalise(raw, f.kind == "paragraphs") if isinstance(raw, str) else ""
        message = _text_problem(text, f, canonical=False)
        if message is not None:
            errors[path] = message
        return text
    if f.kind == "integer":
        number: int | None = None
        if isinstance(raw, str):
            digits = raw.strip(STRIP)
            if _DIGITS.fullmatch(digits):
                number = int(digits)
        else:
            number = json_int(raw)  # a UI may hand over numbers instead of the inputs' strings
        if number is None or not f.minimum <= number <= f.maximum:
            errors[path] = f"Enter a whole number from {f.minimum} to {_count(f.maximum)}."
            return f.minimum
        return number
    if f.kind == "choices":
        items: list[object] = [raw] if isinstance(raw, str) and raw else []
        if isinstance(raw, (list, tuple, set, frozenset)):
            items = list(raw)
        known = [c.value for c in f.choices]
        chosen = [item for item in items if isinstance(item, str) and item in known]
        if len(chosen) < len(items):
            errors[path] = f"Choose {f.noun}s from the list; reload the page if it is out of date."
        elif not chosen:
            errors[path] = f"Choose at least one {f.noun}."
        # Checkboxes cannot repeat a value, so a repeat is a quirk of the caller, not the reader's.
        return _in_order(chosen, known)
    if not (raw is True or (isinstance(raw, str) and raw.strip().lower() in _CHECKED)):
        errors[path] = f.missing
    return True


def read_form(form: Mapping[str, object], fields: tuple[Field, ...]) -> tuple[dict[str, str], dict[str, object]]:
    """The form's messages by input name, and the answers (grouped as in the document)."""
    errors: dict[str, str] = {}
    values: dict[str, object] = {}
    groups: dict[str, dict[str, object]] = {}
    for path, f in answer_fields(fields):
        value = _form_value(f, form.get(path), path, errors)
        group, _, name = path.rpartition(".")
        if group:
            values[group] = groups.setdefault(group, {})
            groups[group][name] = value
        else:
            values[path] = value
    return errors, values


def check_account(account: Account | Mapping[str, object], policy: Policy) -> AccountCheck:
    """Check an account context as the form does (see :class:`AccountCheck`).

    A mapping has the document's keys; a missing key means the field's default, so nothing
    claims to come from a sign-in unless the caller says so. Texts are normalised first, and
    an empty one counts as no value.
    """
    f = context_field(fields_for(policy))
    raw: Mapping[str, object] = document_of(account, f.children) if isinstance(account, tuple) else account
    given: dict[object, object] = {}
    for c in f.children:
        value = raw.get(c.name, c.default)
        if isinstance(value, str) and c.nullable:
            value = normalise(value, False) or None
        elif isinstance(value, Mapping):
            value = dict(value)
        given[c.name] = value
    given.update((key, value) for key, value in raw.items() if key not in given)  # reported below
    out: list[Problem] = []
    clean = _members(f.children, given, f.name, out)
    errors: dict[str, str] = {}
    for problem in out:
        errors.setdefault(problem.field, problem.message)
    carried = typed(f, {c.name: c.default if clean[c.name] is _BAD else clean[c.name] for c in f.children})
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
    t = moment.astimezone(UTC)
    # Formatted by hand: strftime does not zero-pad years below 1000 on every platform.
    return f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}Z"


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
        values[context_field(fields).name] = check.account
    if errors:
        return FormResult(errors, None)
    return FormResult({}, record_of({**values, **_stamps(policy, clock, new_id)}, fields))


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
