"""The upgrade request a reader sends to support: model, validation, JSON document and schema.

A reader without full access fills in a form in the page; the browser UI builds the form from
:func:`form_fields`, calls :func:`validate_form` as the reader types and shows each message
next to its field. A valid form becomes an :class:`UpgradeRequest`, which is written as a
canonical JSON document (:func:`to_json`), read back and checked (:func:`validate_document`,
:func:`from_document`) and described by a JSON Schema (:func:`json_schema`). The texts that
support reads (the ticket text and a ``mailto:`` link) are in
:mod:`access_checker.request_outputs`.

Public API
----------
``form_fields(policy) -> tuple[FormField, ...]``
    The form, in order: name, label, hint, kind (``text``, ``email``, ``multiline``,
    ``number``, ``checkboxes``, ``checkbox``), bounds and choices. Bounds and choices come
    from the policy, which is why this is a function and not a constant.
``validate_form(form, policy, *, account=None, clock=..., new_id=...) -> FormResult``
    ``form`` maps field names (``"name"``, ``"resources.gpus"``, …) to what the HTML inputs
    hold: strings (numbers too), lists of strings for checkbox groups, a bool (or ``"on"``)
    for the single checkbox. ``account`` is the account context (see the model below) or
    None. ``FormResult.errors`` maps a field name to its first message (empty when valid);
    ``FormResult.request`` is the request, stamped with ``new_id()`` and ``clock()``, or None.
``new_request(policy, *, name, email, …, clock=..., new_id=...) -> UpgradeRequest``
    Builds a request from values that are already clean; raises :class:`RequestError`.
``validate_document(doc, policy) -> list[Problem]``
    Checks a parsed JSON document; ``[]`` when valid. Never raises.
``from_document(doc, policy) -> UpgradeRequest`` (raises :class:`RequestError`),
``to_document(request) -> dict``, ``to_json(request) -> str``
    The canonical document: keys in model order, ids in policy order, 2-space indent,
    ``ensure_ascii=False``, trailing newline.
``json_schema(policy) -> dict``
    JSON Schema (draft 2020-12) of the canonical document, with the policy's ids and limits.

The model (version 1)
---------------------
``kind`` ``"ai4os.access-upgrade-request"``; ``version`` 1; ``id`` a random UUID (version 4,
lower case); ``created`` UTC time ``YYYY-MM-DDTHH:MM:SSZ``; ``policy`` the version of the
policy it was made with (another version than the current one is accepted); ``name``,
``institution`` (1–200 characters); ``email`` (≤ 254); ``projects``, ``features`` (policy ids,
at least one, no repeats); ``why``, ``planned_use`` (20–4,000, several lines);
``resources`` {``gpus``, ``storage_gb``} and ``duration_months`` (whole numbers within the
policy's ``[request]`` limits); ``heard_from`` (1–500); ``accepted_aup`` ``true``; ``account``
null or {``self_reported``, ``subject``, ``issuer``, ``identity_provider``, ``levels``}.

Text rules. The form normalises text first: Unicode NFC, ``\\r\\n`` to ``\\n`` in the
multi-line fields, then strips spaces and line breaks at both ends. A document must already
be trimmed and use ``\\n`` only; it is checked as written and not required to be NFC, because
NFC-equivalent texts look the same and JSON Schema cannot express normalisation. Lengths count
code points. Rejected everywhere: C0 controls and DEL/C1 (except tab and line feed in
multi-line fields), the bidirectional embedding, override and isolate controls (U+202A–U+202E,
U+2066–U+2069: they can make text display misleadingly), the line and paragraph separators
(U+2028, U+2029: mail clients may show them as line breaks) and lone surrogates (they cannot
be written as UTF-8). ZWJ and ZWNJ are allowed: some scripts and emoji need them.

Numbers in a document must be JSON integers (not strings or booleans); as in JSON Schema, a
number with a zero fraction such as ``2.0`` is the integer 2. ``projects``, ``features`` and
``account.levels`` may be listed in any order; the request keeps the policy's order.

:func:`validate_document` and :func:`json_schema` state the same rules: a document passes one
exactly when it passes the other (the property tests check this with ``jsonschema``).
"""

from __future__ import annotations

import json
import re
import unicodedata
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Final, Literal, NamedTuple

from access_checker.policy import Policy

__all__ = [
    "KIND",
    "SCHEMA_ID",
    "VERSION",
    "Account",
    "Choice",
    "FieldKind",
    "FormField",
    "FormResult",
    "Problem",
    "RequestError",
    "Resources",
    "UpgradeRequest",
    "form_fields",
    "from_document",
    "json_schema",
    "new_request",
    "to_document",
    "to_json",
    "validate_document",
    "validate_form",
]

KIND: Final = "ai4os.access-upgrade-request"
VERSION: Final = 1
SCHEMA_ID: Final = "urn:ai4os:access-upgrade-request:1"

NAME_MAX: Final = 200
INSTITUTION_MAX: Final = 200
EMAIL_MAX: Final = 254
EMAIL_LOCAL_MAX: Final = 64
ESSAY_MIN: Final = 20
ESSAY_MAX: Final = 4000
HEARD_FROM_MAX: Final = 500
SUBJECT_MAX: Final = 255
ISSUER_MAX: Final = 255
IDENTITY_PROVIDER_MAX: Final = 100
POLICY_VERSION_MAX: Final = 100

# ---------------------------------------------------------------------------------------------
# Character classes. They are written once, as regex source that means the same in Python's
# `re` and in ECMA-262 with the `u` flag (what JSON Schema validators use): only \uXXXX
# escapes, no \s (the two dialects disagree on it) and no lookaround (RE2 lacks it). The
# validator and the schema are built from these same strings, so they cannot drift apart.
_CONTROLS: Final = r"\u0000-\u001f\u007f-\u009f"
_CONTROLS_BUT_TAB_LF: Final = r"\u0000-\u0008\u000b-\u001f\u007f-\u009f"
_BIDI: Final = r"\u202a-\u202e\u2066-\u2069"
_SEPARATORS: Final = r"\u2028\u2029"
_SURROGATES: Final = r"\ud800-\udfff"
# The white space that is not also a control or separator (those are rejected instead).
_SPACES: Final = r"\u0020\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000"

_LINE_BAD: Final = _CONTROLS + _BIDI + _SEPARATORS + _SURROGATES
_PARAS_BAD: Final = _CONTROLS_BUT_TAB_LF + _BIDI + _SEPARATORS + _SURROGATES
# What may not start or end a text: anything rejected, tab and line feed, and spaces.
_EDGE_BAD: Final = _LINE_BAD + _SPACES

LINE_PATTERN: Final = f"^[^{_EDGE_BAD}](?:[^{_LINE_BAD}]*[^{_EDGE_BAD}])?$"
PARAGRAPHS_PATTERN: Final = f"^[^{_EDGE_BAD}](?:[^{_PARAS_BAD}]*[^{_EDGE_BAD}])?$"

# E-mail: pragmatic, not RFC 5322. The local part is dot-separated runs of anything but
# spaces, rejected characters and the RFC 5322 specials; domain labels are ASCII letters,
# digits and inner hyphens, or any other non-ASCII character (internationalised names).
_ATOM: Final = f"[^{_EDGE_BAD}" + r"\u0022\u0028\u0029\u002c\u002e\u003a-\u003c\u003e\u0040\u005b-\u005d]"
_ASCII_NOT_ALNUM: Final = r"\u0020-\u002f\u003a-\u0040\u005b-\u0060\u007b-\u007e"
_LABEL_END: Final = f"[^{_EDGE_BAD}{_ASCII_NOT_ALNUM}]"
_LABEL_MID: Final = f"[^{_EDGE_BAD}" + r"\u0020-\u002c\u002e\u002f\u003a-\u0040\u005b-\u0060\u007b-\u007e]"
_LABEL: Final = f"{_LABEL_END}(?:{_LABEL_MID}{{0,61}}{_LABEL_END})?"
EMAIL_PATTERN: Final = f"^{_ATOM}+(?:\\.{_ATOM}+)*@{_LABEL}(?:\\.{_LABEL})+$"
EMAIL_LOCAL_PATTERN: Final = f"^[^@]{{1,{EMAIL_LOCAL_MAX}}}@"

_URL_CHAR: Final = f"[^{_EDGE_BAD}]"
ISSUER_PATTERN: Final = (
    f"^(?:https://[^{_EDGE_BAD}/?#]+|http://127\\.0\\.0\\.1(?::[0-9]{{1,5}})?)"
    f"(?:[/?#]{_URL_CHAR}*)?$"
)
UUID_PATTERN: Final = "^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"

# A real calendar date (leap years included) at whole seconds in UTC, as one regex so that the
# schema can say exactly what the validator checks.
_DAY_31: Final = "(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])"
_DAY_30: Final = "(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)"
_DAY_FEB: Final = "02-(?:0[1-9]|1[0-9]|2[0-8])"
_LEAP_YEAR: Final = "(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:[02468][048]|[13579][26])00)"
CREATED_PATTERN: Final = (
    f"^(?:[0-9]{{4}}-(?:{_DAY_31}|{_DAY_30}|{_DAY_FEB})|{_LEAP_YEAR}-02-29)"
    "T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]Z$"
)



class _LazyPattern:
    """A regular expression compiled on first use.

    In the browser, compiling these large Unicode patterns at import costs tens of
    milliseconds on the way to the checker's first screen, before anyone types anything.
    """

    __slots__ = ("_compiled", "_source")

    def __init__(self, source: str) -> None:
        self._source = source
        self._compiled: re.Pattern[str] | None = None

    def _pattern(self) -> re.Pattern[str]:
        if self._compiled is None:
            self._compiled = re.compile(self._source)
        return self._compiled

    def fullmatch(self, text: str) -> re.Match[str] | None:
        return self._pattern().fullmatch(text)

    def search(self, text: str) -> re.Match[str] | None:
        return self._pattern().search(text)


_LINE_BAD_RE: Final = _LazyPattern(f"[{_LINE_BAD}]")
_PARAS_BAD_RE: Final = _LazyPattern(f"[{_PARAS_BAD}]")
_EMAIL_RE: Final = _LazyPattern(EMAIL_PATTERN)
_ISSUER_RE: Final = _LazyPattern(ISSUER_PATTERN)
_UUID_RE: Final = _LazyPattern(UUID_PATTERN)
_CREATED_RE: Final = _LazyPattern(CREATED_PATTERN)
_DIGITS_RE: Final = _LazyPattern("[0-9]{1,12}")
# What the form strips from both ends: the spaces, tabs and line breaks a reader can type. The
# other characters Python calls white space (U+000B, U+000C, U+001C-U+001F, U+0085, U+2028,
# U+2029) are rejected with a message instead of vanishing silently.
_STRIP: Final = (
    " \t\n\r\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u202f\u205f\u3000"
)
_EDGE_SPACE: Final = frozenset(_STRIP)

_CHECKED: Final = frozenset({"on", "true", "yes", "1"})


# ---------------------------------------------------------------------------------------------
# The model


class Resources(NamedTuple):
    gpus: int
    storage_gb: int


class Account(NamedTuple):
    """What the reader's account says, or what the reader says about it (``self_reported``).

    ``levels`` holds (project id, level id) pairs in policy order; ``dict(account.levels)``
    gives the mapping.
    """

    self_reported: bool
    subject: str | None = None
    issuer: str | None = None
    identity_provider: str | None = None
    levels: tuple[tuple[str, str], ...] = ()


class UpgradeRequest(NamedTuple):
    """A valid request. Make one with validate_form, new_request or from_document."""

    id: str
    created: str
    policy: str
    name: str
    email: str
    institution: str
    projects: tuple[str, ...]
    features: tuple[str, ...]
    why: str
    planned_use: str
    resources: Resources
    duration_months: int
    heard_from: str
    accepted_aup: bool = True
    account: Account | None = None


class Problem(NamedTuple):
    """One problem in a document: ``field`` is a path like ``resources.gpus`` or ``projects[1]``."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class RequestError(ValueError):
    """A document or set of values that is not a valid request; ``problems`` lists why."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


class FormResult(NamedTuple):
    errors: dict[str, str]
    request: UpgradeRequest | None

    @property
    def ok(self) -> bool:
        return self.request is not None


# ---------------------------------------------------------------------------------------------
# The form

FieldKind = Literal["text", "email", "multiline", "number", "checkboxes", "checkbox"]


class Choice(NamedTuple):
    value: str
    label: str
    hint: str = ""


class FormField(NamedTuple):
    """One input of the form.

    ``minimum``/``maximum`` are characters for text kinds, the value for ``number`` and the
    count of ticked boxes for ``checkboxes``. ``autocomplete`` is the HTML token to use, and
    ``link`` a page the reader should read (the acceptable use policy).
    """

    name: str
    label: str
    hint: str
    kind: FieldKind
    required: bool = True
    minimum: int | None = None
    maximum: int | None = None
    choices: tuple[Choice, ...] = ()
    autocomplete: str = ""
    link: str = ""


class _Text(NamedTuple):
    """How one text field is checked; ``missing`` is what the form says when it is empty."""

    name: str
    minimum: int
    maximum: int
    missing: str
    multiline: bool = False


_NAME: Final = _Text("name", 1, NAME_MAX, "Enter your name.")
_EMAIL: Final = _Text("email", 1, EMAIL_MAX, "Enter your e-mail address.")
_INSTITUTION: Final = _Text("institution", 1, INSTITUTION_MAX, "Enter your institution or organisation.")
_WHY: Final = _Text("why", ESSAY_MIN, ESSAY_MAX, "Explain why you need full access.", multiline=True)
_PLANNED: Final = _Text(
    "planned_use", ESSAY_MIN, ESSAY_MAX, "Describe what you plan to do with full access.", multiline=True
)
_HEARD: Final = _Text("heard_from", 1, HEARD_FROM_MAX, "Tell us how you heard about the platform.")
_SUBJECT: Final = _Text("subject", 1, SUBJECT_MAX, "")
_ISSUER: Final = _Text("issuer", 1, ISSUER_MAX, "")
_IDP: Final = _Text("identity_provider", 1, IDENTITY_PROVIDER_MAX, "")
_POLICY_TEXT: Final = _Text("policy", 1, POLICY_VERSION_MAX, "")

_AUP_MESSAGE: Final = "You must accept the acceptable use policy to send a request."
_EMAIL_MESSAGE: Final = "Enter an e-mail address like name@example.org."
_ISSUER_MESSAGE: Final = "Must be an https:// URL (or http://127.0.0.1 for local testing)."


def _upgrade_features(policy: Policy) -> list[str]:
    """The features worth asking for: those above the first signed-in level (basic)."""
    if len(policy.levels) < 3:
        return [f.id for f in policy.features]
    first_signed_in = policy.levels[1].rank
    ids = [f.id for f in policy.features if policy.rank(f.level) > first_signed_in]
    return ids or [f.id for f in policy.features]


def form_fields(policy: Policy) -> tuple[FormField, ...]:
    """The form the UI shows, in order, with labels, hints, bounds and choices from the policy.

    Feature choices are the features above basic access (the only ones an upgrade unlocks);
    validation still accepts any feature of the policy.
    """
    limits = policy.limits
    level_names = {level.id: level.name for level in policy.levels}
    wanted = set(_upgrade_features(policy))
    return (
        FormField(
            "name", "Your name", "The name support should address you by.",
            "text", minimum=1, maximum=NAME_MAX, autocomplete="name",
        ),
        FormField(
            "email", "E-mail address",
            "Support replies here. Use the address of your AI4OS account if you have one.",
            "email", minimum=1, maximum=EMAIL_MAX, autocomplete="email",
        ),
        FormField(
            "institution", "Institution or organisation",
            "The university, institute or company you work for.",
            "text", minimum=1, maximum=INSTITUTION_MAX, autocomplete="organization",
        ),
        FormField(
            "projects", "Projects", "The projects whose resources you want to use.",
            "checkboxes", minimum=1, maximum=len(policy.projects),
            choices=tuple(Choice(p.id, p.name, p.description) for p in policy.projects),
        ),
        FormField(
            "features", "What you need", "The features you need full access for.",
            "checkboxes", minimum=1, maximum=len(wanted),
            choices=tuple(
                Choice(f.id, f.title, level_names.get(f.level, f.level))
                for f in policy.features if f.id in wanted
            ),
        ),
        FormField(
            "why", "Why do you need full access?",
            "Your use case, and why basic access is not enough for it.",
            "multiline", minimum=ESSAY_MIN, maximum=ESSAY_MAX,
        ),
        FormField(
            "planned_use", "What will you do with it?",
            "The models, data and experiments you plan to run.",
            "multiline", minimum=ESSAY_MIN, maximum=ESSAY_MAX,
        ),
        FormField(
            "resources.gpus", "GPUs",
            f"How many GPUs you need at the same time, from 0 to {limits.max_gpus}.",
            "number", minimum=0, maximum=limits.max_gpus,
        ),
        FormField(
            "resources.storage_gb", "Storage (GB)",
            f"How much storage you need in gigabytes, from 0 to {limits.max_storage_gb:,}.",
            "number", minimum=0, maximum=limits.max_storage_gb,
        ),
        FormField(
            "duration_months", "Duration (months)",
            f"How long you need full access, from 1 to {limits.max_months} months.",
            "number", minimum=1, maximum=limits.max_months,
        ),
        FormField(
            "heard_from", "How did you hear about the platform?",
            "For example a colleague, a workshop, a project's open call or a web search.",
            "text", minimum=1, maximum=HEARD_FROM_MAX,
        ),
        FormField(
            "accepted_aup", "I have read and accept the acceptable use policy.",
            "Requests can only be sent by readers who accept it.",
            "checkbox", link=policy.support.acceptable_use,
        ),
    )


# ---------------------------------------------------------------------------------------------
# Shared rules. Each returns the message for the first problem, or None.


def _count(n: int) -> str:
    return f"{n:,}"


def _show(value: object) -> str:
    """A value for a message: short and escaped, so a hostile value cannot restyle the message."""
    if isinstance(value, str):
        return json.dumps(value[:40] + ("..." if len(value) > 40 else ""), ensure_ascii=True)
    if value is None or isinstance(value, (bool, float)):
        return json.dumps(value)
    if isinstance(value, int):
        return str(value) if -10**40 < value < 10**40 else "(a very large number)"
    if isinstance(value, list):
        return "(a list)"
    if isinstance(value, dict):
        return "(an object)"
    return f"({type(value).__name__})"


_PLAIN_KEY: Final = re.compile("[A-Za-z0-9_$-]{1,40}")


def _key(key: object) -> str:
    """A key for a problem's path: as is when plain, else quoted like a JSON string."""
    return key if isinstance(key, str) and _PLAIN_KEY.fullmatch(key) else _show(key)


def _char_problem(text: str, multiline: bool) -> str | None:
    found = (_PARAS_BAD_RE if multiline else _LINE_BAD_RE).search(text)
    if found is None:
        return None
    char = found.group()
    code = ord(char)
    where = f"at position {found.start() + 1}"
    if 0xD800 <= code <= 0xDFFF:
        return f"Remove the broken character {where}: it is half of a character pair and cannot be sent."
    if 0x202A <= code <= 0x202E or 0x2066 <= code <= 0x2069:
        return (
            f"Remove the hidden text-direction character (U+{code:04X}) {where}: "
            "it can make text display misleadingly."
        )
    if not multiline and char in "\n\r\u2028\u2029":
        return f"Keep this on one line: remove the line break {where}."
    if char in "\u2028\u2029":
        return f"Replace the line or paragraph separator (U+{code:04X}) {where} with an ordinary line break."
    if char == "\t":
        return f"Remove the tab {where}, or use a space instead."
    return f"Remove the invisible control character (U+{code:04X}) {where}."


def _text_problem(text: str, spec: _Text, *, canonical: bool) -> str | None:
    """Checks a text; ``canonical`` texts (documents) must also be trimmed already."""
    problem = _char_problem(text, spec.multiline)
    if problem is not None:
        return problem
    if not text:
        return spec.missing or "Must not be empty."
    if canonical and (text[0] in _EDGE_SPACE or text[-1] in _EDGE_SPACE):
        return "Remove the spaces or line breaks at the start and end."
    if len(text) < spec.minimum:
        return f"Write at least {_count(spec.minimum)} characters (now {_count(len(text))})."
    if len(text) > spec.maximum:
        return f"Shorten this to at most {_count(spec.maximum)} characters (now {_count(len(text))})."
    return None


def _email_problem(text: str) -> str | None:
    if _EMAIL_RE.fullmatch(text) is None:
        return _EMAIL_MESSAGE
    if text.index("@") > EMAIL_LOCAL_MAX:
        return f"The part before the @ can have at most {EMAIL_LOCAL_MAX} characters."
    return None


def _normalise(text: str, multiline: bool) -> str:
    if multiline:
        text = text.replace("\r\n", "\n")
    return unicodedata.normalize("NFC", text).strip(_STRIP)


def _json_int(value: object) -> int | None:
    """The integer a JSON number stands for, as JSON Schema sees it (2.0 is 2; true is not 1)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _ids_in_order(chosen: Sequence[str], order: Sequence[str]) -> tuple[str, ...]:
    wanted = set(chosen)
    return tuple(i for i in order if i in wanted)


# ---------------------------------------------------------------------------------------------
# Documents


class _Checker:
    """Collects problems in document order; one per field is enough to fix it."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.problems: list[Problem] = []

    def add(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message))

    def text(self, value: object, spec: _Text, path: str) -> str | None:
        if not isinstance(value, str):
            self.add(path, "Must be a string." if value is not None else "Must be a string, not null.")
            return None
        message = _text_problem(value, spec, canonical=True)
        if message is not None:
            self.add(path, message)
            return None
        return value

    def optional_text(self, value: object, spec: _Text, path: str) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str):
            self.add(path, "Must be a string or null.")
            return None
        return self.text(value, spec, path)

    def integer(self, value: object, low: int, high: int, path: str) -> int | None:
        number = _json_int(value)
        if number is None:
            self.add(path, f"Must be a JSON integer (a whole number without quotes) from {low} to {high}.")
            return None
        if not low <= number <= high:
            self.add(path, f"Must be a whole number from {low} to {high}.")
            return None
        return number

    def ids(self, value: object, known: Sequence[str], what: str, path: str) -> tuple[str, ...]:
        choices = ", ".join(known)
        if not isinstance(value, list):
            self.add(path, f"Must be a list of {what} ids ({choices}).")
            return ()
        if not value:
            self.add(path, f"List at least one {what}.")
            return ()
        seen: list[str] = []
        for index, item in enumerate(value):
            where = f"{path}[{index}]"
            if not isinstance(item, str) or item not in known:
                self.add(where, f"Unknown {what} {_show(item)}; use one of: {choices}.")
            elif item in seen:
                self.add(where, f"The {what} {_show(item)} is listed twice; list it once.")
            else:
                seen.append(item)
        return _ids_in_order(seen, known)

    def resources(self, value: object, path: str) -> Resources | None:
        if not isinstance(value, dict):
            self.add(path, "Must be an object with gpus and storage_gb.")
            return None
        limits = self.policy.limits
        before = len(self.problems)
        numbers: dict[str, int | None] = {}
        for key, high in (("gpus", limits.max_gpus), ("storage_gb", limits.max_storage_gb)):
            if key in value:
                numbers[key] = self.integer(value[key], 0, high, f"{path}.{key}")
            else:
                self.missing(f"{path}.{key}")
        self.unknown_keys(value, _RESOURCE_KEYS, path)
        gpus, storage = numbers.get("gpus"), numbers.get("storage_gb")
        if len(self.problems) > before or gpus is None or storage is None:
            return None
        return Resources(gpus=gpus, storage_gb=storage)

    def unknown_keys(self, value: Mapping[object, object], known: Sequence[str], path: str) -> None:
        for key in value:
            if key not in known:
                self.add(f"{path}.{_key(key)}" if path else _key(key), "Unknown field; remove it.")

    def missing(self, path: str) -> None:
        self.add(path, "This field is missing.")


_TOP_KEYS: Final = (
    "kind", "version", "id", "created", "policy", "name", "email", "institution", "projects",
    "features", "why", "planned_use", "resources", "duration_months", "heard_from",
    "accepted_aup", "account",
)
_RESOURCE_KEYS: Final = ("gpus", "storage_gb")
_ACCOUNT_KEYS: Final = ("self_reported", "subject", "issuer", "identity_provider", "levels")

_MISSING: Final = object()


def _check_account(c: _Checker, value: object, path: str) -> Account | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        c.add(path, "Must be an object (the account context) or null.")
        return None
    before = len(c.problems)
    fields: dict[str, object] = {}
    for key in _ACCOUNT_KEYS:
        if key in value:
            fields[key] = value[key]
        else:
            c.missing(f"{path}.{key}")
    self_reported = fields.get("self_reported", _MISSING)
    if self_reported is not _MISSING and not isinstance(self_reported, bool):
        c.add(f"{path}.self_reported", "Must be true or false.")
    subject = c.optional_text(fields.get("subject"), _SUBJECT, f"{path}.subject")
    issuer = c.optional_text(fields.get("issuer"), _ISSUER, f"{path}.issuer")
    if issuer is not None and _ISSUER_RE.fullmatch(issuer) is None:
        c.add(f"{path}.issuer", _ISSUER_MESSAGE)
    idp = c.optional_text(fields.get("identity_provider"), _IDP, f"{path}.identity_provider")
    levels: list[tuple[str, str]] = []
    raw_levels = fields.get("levels", {})
    if not isinstance(raw_levels, dict):
        c.add(f"{path}.levels", "Must be an object mapping project ids to level ids.")
    else:
        project_ids = [p.id for p in c.policy.projects]
        level_ids = [level.id for level in c.policy.levels]
        for key, level in raw_levels.items():
            where = f"{path}.levels.{_key(key)}"
            if not isinstance(key, str) or key not in project_ids:
                c.add(where, f"Unknown project {_show(key)}; use one of: {', '.join(project_ids)}.")
            elif not isinstance(level, str) or level not in level_ids:
                c.add(where, f"Unknown level {_show(level)}; use one of: {', '.join(level_ids)}.")
        levels = [
            (pid, raw_levels[pid]) for pid in project_ids
            if pid in raw_levels and raw_levels[pid] in level_ids
        ]
    c.unknown_keys(value, _ACCOUNT_KEYS, path)
    if len(c.problems) > before:
        return None
    return Account(
        self_reported=bool(self_reported), subject=subject, issuer=issuer,
        identity_provider=idp, levels=tuple(levels),
    )


def _check(doc: object, policy: Policy) -> tuple[list[Problem], UpgradeRequest | None]:
    c = _Checker(policy)
    if not isinstance(doc, dict):
        c.add("(document)", "Must be a JSON object: an AI4OS access upgrade request.")
        return c.problems, None

    def present(key: str) -> bool:
        if key in doc:
            return True
        if key != "account":
            c.missing(key)
        return False

    if present("kind") and not (isinstance(doc["kind"], str) and doc["kind"] == KIND):
        c.add("kind", f'Must be "{KIND}".')
    if present("version") and _json_int(doc["version"]) != VERSION:
        c.add("version", f"Must be {VERSION}: this checker reads version {VERSION} requests.")
    request_id = doc.get("id")
    if present("id") and not (isinstance(request_id, str) and _UUID_RE.fullmatch(request_id)):
        c.add("id", "Must be a random UUID (version 4) in lower case, like 0f8fad5b-d9cb-469f-a165-70867728950e.")
    created = doc.get("created")
    if present("created") and not (isinstance(created, str) and _CREATED_RE.fullmatch(created)):
        c.add("created", "Must be a UTC date and time like 2025-06-01T12:30:00Z.")
    texts: dict[str, str | None] = {}
    for spec in (_POLICY_TEXT, _NAME, _EMAIL, _INSTITUTION):
        texts[spec.name] = c.text(doc[spec.name], spec, spec.name) if present(spec.name) else None
    email = texts["email"]
    if email is not None and (message := _email_problem(email)) is not None:
        c.add("email", message)
    project_ids = [p.id for p in policy.projects]
    feature_ids = [f.id for f in policy.features]
    projects = c.ids(doc["projects"], project_ids, "project", "projects") if present("projects") else ()
    features = c.ids(doc["features"], feature_ids, "feature", "features") if present("features") else ()
    for spec in (_WHY, _PLANNED):
        texts[spec.name] = c.text(doc[spec.name], spec, spec.name) if present(spec.name) else None
    resources = c.resources(doc["resources"], "resources") if present("resources") else None
    duration = (
        c.integer(doc["duration_months"], 1, policy.limits.max_months, "duration_months")
        if present("duration_months") else None
    )
    texts["heard_from"] = c.text(doc["heard_from"], _HEARD, "heard_from") if present("heard_from") else None
    if present("accepted_aup") and doc["accepted_aup"] is not True:
        c.add("accepted_aup", f"Must be true. {_AUP_MESSAGE}")
    account = _check_account(c, doc["account"], "account") if present("account") else None
    c.unknown_keys(doc, _TOP_KEYS, "")

    if c.problems:
        return c.problems, None
    # Every value below passed its check above; the asserts only tell the type checker so.
    assert isinstance(request_id, str) and isinstance(created, str)
    assert resources is not None and duration is not None
    request = UpgradeRequest(
        id=request_id, created=created, policy=_str(texts["policy"]),
        name=_str(texts["name"]), email=_str(texts["email"]), institution=_str(texts["institution"]),
        projects=projects, features=features,
        why=_str(texts["why"]), planned_use=_str(texts["planned_use"]),
        resources=resources, duration_months=duration,
        heard_from=_str(texts["heard_from"]), accepted_aup=True, account=account,
    )
    return [], request


def _str(value: str | None) -> str:
    assert value is not None
    return value


def validate_document(doc: object, policy: Policy) -> list[Problem]:
    """The problems of a parsed JSON document, in model order; ``[]`` when it is valid.

    Never raises, whatever JSON value (or Python object) it is given.
    """
    return _check(doc, policy)[0]


def from_document(doc: object, policy: Policy) -> UpgradeRequest:
    """The request a valid document holds; raises RequestError listing its problems."""
    problems, request = _check(doc, policy)
    if request is None:
        raise RequestError(problems)
    return request


def to_document(request: UpgradeRequest) -> dict[str, object]:
    """The canonical JSON document (a plain dict, keys in model order)."""
    account: dict[str, object] | None = None
    if request.account is not None:
        a = request.account
        account = {
            "self_reported": a.self_reported,
            "subject": a.subject,
            "issuer": a.issuer,
            "identity_provider": a.identity_provider,
            "levels": dict(a.levels),
        }
    return {
        "kind": KIND,
        "version": VERSION,
        "id": request.id,
        "created": request.created,
        "policy": request.policy,
        "name": request.name,
        "email": request.email,
        "institution": request.institution,
        "projects": list(request.projects),
        "features": list(request.features),
        "why": request.why,
        "planned_use": request.planned_use,
        "resources": {"gpus": request.resources.gpus, "storage_gb": request.resources.storage_gb},
        "duration_months": request.duration_months,
        "heard_from": request.heard_from,
        "accepted_aup": request.accepted_aup,
        "account": account,
    }


def to_json(request: UpgradeRequest) -> str:
    """The canonical JSON text: UTF-8 friendly (not ASCII-escaped), 2-space indent, final newline."""
    return json.dumps(to_document(request), ensure_ascii=False, indent=2) + "\n"


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


def new_request(
    policy: Policy,
    *,
    name: str,
    email: str,
    institution: str,
    projects: Sequence[str],
    features: Sequence[str],
    why: str,
    planned_use: str,
    gpus: int,
    storage_gb: int,
    duration_months: int,
    heard_from: str,
    accepted_aup: bool,
    account: Account | None = None,
    clock: Callable[[], datetime] = _utc_now,
    new_id: Callable[[], str] = _random_id,
) -> UpgradeRequest:
    """A request from clean values, stamped with a new id, the time and the policy version.

    The values are checked with the document rules (no normalisation); raises RequestError.
    """
    doc = {
        "kind": KIND, "version": VERSION, "id": new_id(), "created": _timestamp(clock()),
        "policy": policy.version, "name": name, "email": email, "institution": institution,
        "projects": list(projects), "features": list(features), "why": why,
        "planned_use": planned_use, "resources": {"gpus": gpus, "storage_gb": storage_gb},
        "duration_months": duration_months, "heard_from": heard_from, "accepted_aup": accepted_aup,
        "account": None,
    }
    if account is not None:
        doc["account"] = {
            "self_reported": account.self_reported, "subject": account.subject,
            "issuer": account.issuer, "identity_provider": account.identity_provider,
            "levels": dict(account.levels),
        }
    return from_document(doc, policy)


def _form_text(form: Mapping[str, object], spec: _Text, errors: dict[str, str]) -> str:
    raw = form.get(spec.name)
    text = _normalise(raw, spec.multiline) if isinstance(raw, str) else ""
    message = _text_problem(text, spec, canonical=False)
    if message is None and spec is _EMAIL:
        message = _email_problem(text)
    if message is not None:
        errors[spec.name] = message
    return text


def _form_int(form: Mapping[str, object], name: str, low: int, high: int, errors: dict[str, str]) -> int:
    raw = form.get(name)
    number: int | None = None
    if isinstance(raw, str):
        digits = raw.strip(_STRIP)
        if _DIGITS_RE.fullmatch(digits):
            number = int(digits)
    else:
        number = _json_int(raw)  # a UI may hand over numbers instead of the inputs' strings
    if number is None or not low <= number <= high:
        errors[name] = f"Enter a whole number from {low} to {_count(high)}."
        return low
    return number


def _form_ids(
    form: Mapping[str, object], name: str, known: Sequence[str], what: str, errors: dict[str, str]
) -> tuple[str, ...]:
    raw = form.get(name)
    items: list[object]
    if isinstance(raw, str):
        items = [raw] if raw else []
    elif isinstance(raw, (list, tuple, set, frozenset)):
        items = list(raw)
    else:
        items = []
    chosen = [item for item in items if isinstance(item, str) and item in known]
    if len(chosen) < len(items):
        errors[name] = f"Choose {what}s from the list; reload the page if it is out of date."
    elif not chosen:
        errors[name] = f"Choose at least one {what}."
    # Checkboxes cannot repeat a value, so a repeat is a quirk of the caller, not the reader's.
    return _ids_in_order(chosen, known)


def _form_account(
    account: Mapping[str, object], policy: Policy, errors: dict[str, str]
) -> Account | None:
    raw: dict[str, object] = {
        "self_reported": account.get("self_reported", True),
        "subject": account.get("subject"),
        "issuer": account.get("issuer"),
        "identity_provider": account.get("identity_provider"),
        "levels": account.get("levels", {}),
    }
    for key in ("subject", "issuer", "identity_provider"):
        value = raw[key]
        if isinstance(value, str):
            raw[key] = _normalise(value, False) or None
    levels = raw["levels"]
    if isinstance(levels, Mapping):
        raw["levels"] = dict(levels)
    for key, value in account.items():
        if key not in raw:
            raw[key] = value
    c = _Checker(policy)
    result = _check_account(c, raw, "account")
    for problem in c.problems:
        errors.setdefault(problem.field, problem.message)
    return result


def validate_form(
    form: Mapping[str, object],
    policy: Policy,
    *,
    account: Mapping[str, object] | None = None,
    clock: Callable[[], datetime] = _utc_now,
    new_id: Callable[[], str] = _random_id,
) -> FormResult:
    """Check what the reader typed; on success stamp the request with ``new_id()`` and ``clock()``.

    Text is normalised (NFC, line breaks, trimmed) before it is checked; numbers arrive as the
    strings of HTML inputs. Fields the form does not know are ignored. ``account`` is the
    account context with the document's keys; ``self_reported`` defaults to true, so nothing
    claims to come from a sign-in unless the caller says so. Pass a ``new_id`` that returns
    the draft's id to keep one id while the reader edits.
    """
    errors: dict[str, str] = {}
    name = _form_text(form, _NAME, errors)
    email = _form_text(form, _EMAIL, errors)
    institution = _form_text(form, _INSTITUTION, errors)
    projects = _form_ids(form, "projects", [p.id for p in policy.projects], "project", errors)
    features = _form_ids(form, "features", [f.id for f in policy.features], "feature", errors)
    why = _form_text(form, _WHY, errors)
    planned_use = _form_text(form, _PLANNED, errors)
    limits = policy.limits
    gpus = _form_int(form, "resources.gpus", 0, limits.max_gpus, errors)
    storage = _form_int(form, "resources.storage_gb", 0, limits.max_storage_gb, errors)
    duration = _form_int(form, "duration_months", 1, limits.max_months, errors)
    heard_from = _form_text(form, _HEARD, errors)
    aup = form.get("accepted_aup")
    if not (aup is True or (isinstance(aup, str) and aup.strip().lower() in _CHECKED)):
        errors["accepted_aup"] = _AUP_MESSAGE
    context = _form_account(account, policy, errors) if account is not None else None
    if errors:
        return FormResult(errors, None)
    request = UpgradeRequest(
        id=new_id(), created=_timestamp(clock()), policy=policy.version,
        name=name, email=email, institution=institution, projects=projects, features=features,
        why=why, planned_use=planned_use, resources=Resources(gpus, storage),
        duration_months=duration, heard_from=heard_from, accepted_aup=True, account=context,
    )
    return FormResult({}, request)


# ---------------------------------------------------------------------------------------------
# JSON Schema


def json_schema(policy: Policy) -> dict[str, object]:
    """JSON Schema (draft 2020-12) of the canonical document, for this policy's ids and limits.

    Patterns use only ECMA-262 syntax that Python's ``re`` reads the same way; they are meant
    with Unicode (``u`` flag) semantics, as JSON Schema validators apply them. Regex dialects
    whose ``$`` also matches before a final line break (Python, PCRE) are covered by a
    ``not`` that rejects a trailing line break.
    """
    limits = policy.limits
    project_ids = [p.id for p in policy.projects]
    level_ids = [level.id for level in policy.levels]

    def line(maximum: int, minimum: int = 1) -> dict[str, object]:
        return {"type": "string", "$ref": "#/$defs/line", "minLength": minimum, "maxLength": maximum}

    def optional_line(maximum: int) -> dict[str, object]:
        return {"type": ["string", "null"], "$ref": "#/$defs/line", "minLength": 1, "maxLength": maximum}

    def paragraphs() -> dict[str, object]:
        return {"type": "string", "$ref": "#/$defs/paragraphs", "minLength": ESSAY_MIN, "maxLength": ESSAY_MAX}

    def integer(low: int, high: int) -> dict[str, object]:
        return {"type": "integer", "minimum": low, "maximum": high}

    def ids(known: list[str]) -> dict[str, object]:
        return {"type": "array", "items": {"enum": known}, "minItems": 1, "uniqueItems": True}

    no_final_newline = {"type": "string", "pattern": r"\n$"}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "AI4OS access upgrade request",
        "description": (
            f"A reader's request for full access, version {VERSION}, for policy {policy.id} "
            f"(version {policy.version}). Text is trimmed, uses \\n line breaks and has no "
            "control, bidirectional-override or separator characters."
        ),
        "type": "object",
        "required": [key for key in _TOP_KEYS if key != "account"],
        "additionalProperties": False,
        "properties": {
            "kind": {"const": KIND},
            "version": {"type": "integer", "const": VERSION},
            "id": {"type": "string", "pattern": UUID_PATTERN, "minLength": 36, "maxLength": 36},
            "created": {"type": "string", "pattern": CREATED_PATTERN, "minLength": 20, "maxLength": 20},
            "policy": line(POLICY_VERSION_MAX),
            "name": line(NAME_MAX),
            "email": {
                **line(EMAIL_MAX),
                "allOf": [{"pattern": EMAIL_PATTERN}, {"pattern": EMAIL_LOCAL_PATTERN}],
            },
            "institution": line(INSTITUTION_MAX),
            "projects": ids(project_ids),
            "features": ids([f.id for f in policy.features]),
            "why": paragraphs(),
            "planned_use": paragraphs(),
            "resources": {
                "type": "object",
                "required": list(_RESOURCE_KEYS),
                "additionalProperties": False,
                "properties": {
                    "gpus": integer(0, limits.max_gpus),
                    "storage_gb": integer(0, limits.max_storage_gb),
                },
            },
            "duration_months": integer(1, limits.max_months),
            "heard_from": line(HEARD_FROM_MAX),
            "accepted_aup": {"const": True},
            "account": {
                "type": ["object", "null"],
                "required": list(_ACCOUNT_KEYS),
                "additionalProperties": False,
                "properties": {
                    "self_reported": {"type": "boolean"},
                    "subject": optional_line(SUBJECT_MAX),
                    "issuer": {**optional_line(ISSUER_MAX), "pattern": ISSUER_PATTERN},
                    "identity_provider": optional_line(IDENTITY_PROVIDER_MAX),
                    "levels": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {pid: {"enum": level_ids} for pid in project_ids},
                    },
                },
            },
        },
        "$defs": {
            "line": {
                "$comment": (
                    "One trimmed line without rejected characters. The `not` matters only to regex "
                    "engines whose $ also matches before a final line break (Python, PCRE)."
                ),
                "pattern": LINE_PATTERN,
                "not": no_final_newline,
            },
            "paragraphs": {
                "$comment": "Like line, but line feeds and tabs are allowed inside the text.",
                "pattern": PARAGRAPHS_PATTERN,
                "not": no_final_newline,
            },
        },
    }

