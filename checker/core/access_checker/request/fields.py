"""The request, declared once: one table of fields from which everything else is derived.

:data:`FIELDS` lists the canonical document's fields in order. Each :class:`Field` says what
it accepts (kind and bounds), where its value comes from (``role``), what the form shows
(``label``, ``hint``), what a reader is told (``missing``, ``invalid``, ``rules``) and how
support reads it (``ticket``). The form (:func:`form_fields`), the validator
(:mod:`~access_checker.request.validation`), the document's order
(:mod:`~access_checker.request.document`), the JSON Schema
(:mod:`~access_checker.request.schema`) and the ticket text
(:mod:`~access_checker.request.outputs`) all read this table, and so does the page. Adding a
field is one entry here and one attribute in the record of :mod:`~access_checker.request.model`.

Some bounds and choices come from the policy: ``from_policy`` names them, and
:func:`fields_for` fills them in.
"""

from collections.abc import Callable, Mapping
from typing import Final, Literal, NamedTuple

from access_checker.policy import Policy
from access_checker.request.model import KIND, VERSION, Account, Resources
from access_checker.request.prepared import for_the_last
from access_checker.text import EDGE_BAD

Kind = Literal[
    "constant", "token", "line", "email", "paragraphs", "choices", "integer", "accept", "boolean", "project-levels", "object"
]
Role = Literal["stamp", "answer", "context"]
FieldKind = Literal["text", "email", "multiline", "number", "checkboxes", "checkbox"]


class Choice(NamedTuple):
    """One allowed id; ``offered`` ones are the form's checkboxes (validation takes them all)."""

    value: str
    label: str
    hint: str = ""
    offered: bool = True


class Field(NamedTuple):
    """One field of the request.

    ``kind`` is what the value is:

    - ``constant``: exactly ``value``; ``token``: a string of ``minimum``-``maximum``
      characters that ``rules`` describe (an id, a time);
    - ``line``, ``email``, ``paragraphs``: text of ``minimum``-``maximum`` code points (see
      :mod:`access_checker.text`); ``email`` is a line the form asks for as an e-mail
      address, ``paragraphs`` may hold line breaks and tabs;
    - ``choices``: ids from ``choices``, at least ``minimum``, no repeats, kept in their order;
    - ``integer``: a whole number from ``minimum`` to ``maximum``;
    - ``accept``: true (a box the reader must tick); ``boolean``: true or false;
    - ``project-levels``: an object mapping ids of ``keys`` (projects) to ids of ``choices``
      (levels);
    - ``object``: the ``children``, each required unless ``optional``, nothing else.

    ``role`` is where the value comes from: ``stamp`` (set when the request is made, shown
    last to support), ``answer`` (typed by the reader in the form; an ``object`` of answers
    is a group of inputs) or ``context`` (what comes from the sign-in). Only top-level roles
    count.

    The form shows ``label`` and ``hint`` and says ``missing`` when an answer is empty;
    documents get ``invalid`` when a value has the wrong type, and each ``(pattern, message)``
    of ``rules`` gives its message when the pattern (JSON Schema semantics) does not match.
    ``ticket`` labels the value in the text support reads; ``separator`` joins choices there,
    ``unit`` (singular, plural) follows a number and ``shown`` (true, false) says a boolean.
    ``nullable`` fields may be null; ``default`` is what an account context that omits the
    field means; ``record`` builds the typed record of an ``object``. ``noun`` names one
    choice in messages, ``autocomplete`` is the input's HTML token and ``link`` the page an
    ``accept`` field asks the reader to read. ``from_policy`` names the policy's value that
    completes the field: a ``[request]`` limit (the maximum), a ``[support]`` address (the
    link), or the policy's ``projects``, ``features`` or ``levels`` (the choices).
    """

    name: str
    kind: Kind
    minimum: int = 0
    maximum: int = 0
    role: Role = "answer"
    label: str = ""
    hint: str = ""
    missing: str = ""
    invalid: str = ""
    ticket: str = ""
    rules: tuple[tuple[str, str], ...] = ()
    value: str | int | None = None
    default: object = None
    nullable: bool = False
    optional: bool = False
    children: tuple["Field", ...] = ()
    record: Callable[..., tuple[object, ...]] | None = None
    from_policy: str = ""
    choices: tuple[Choice, ...] = ()
    keys: tuple[Choice, ...] = ()
    noun: str = ""
    separator: str = ", "
    unit: tuple[str, str] = ("", "")
    shown: tuple[str, str] = ("", "")
    autocomplete: str = ""
    link: str = ""


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


# ---------------------------------------------------------------------------------------------
# Patterns, in the regex dialect that Python and JSON Schema share (see access_checker.text).

EMAIL_LOCAL_MAX: Final = 64
# E-mail: pragmatic, not RFC 5322. The local part is dot-separated runs of anything but
# spaces, rejected characters and the RFC 5322 specials; domain labels are ASCII letters,
# digits and inner hyphens, or any other non-ASCII character (internationalised names).
_ATOM: Final = f"[^{EDGE_BAD}" + r"\u0022\u0028\u0029\u002c\u002e\u003a-\u003c\u003e\u0040\u005b-\u005d]"
_ASCII_NOT_ALNUM: Final = r"\u0020-\u002f\u003a-\u0040\u005b-\u0060\u007b-\u007e"
_LABEL_END: Final = f"[^{EDGE_BAD}{_ASCII_NOT_ALNUM}]"
_LABEL_MID: Final = f"[^{EDGE_BAD}" + r"\u0020-\u002c\u002e\u002f\u003a-\u0040\u005b-\u0060\u007b-\u007e]"
_LABEL: Final = f"{_LABEL_END}(?:{_LABEL_MID}{{0,61}}{_LABEL_END})?"
EMAIL_PATTERN: Final = f"^{_ATOM}+(?:\\.{_ATOM}+)*@{_LABEL}(?:\\.{_LABEL})+$"
EMAIL_LOCAL_PATTERN: Final = f"^[^@]{{1,{EMAIL_LOCAL_MAX}}}@"

ISSUER_PATTERN: Final = (
    f"^(?:https://[^{EDGE_BAD}/?#]+|http://127\\.0\\.0\\.1(?::[0-9]{{1,5}})?)(?:[/?#][^{EDGE_BAD}]*)?$"
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

_AUP: Final = "You must accept the acceptable use policy to send a request."

# ---------------------------------------------------------------------------------------------
# The table

FIELDS: Final[tuple[Field, ...]] = (
    Field("kind", "constant", role="stamp", value=KIND, invalid=f'Must be "{KIND}".'),
    Field("version", "constant", role="stamp", value=VERSION,
          invalid=f"Must be {VERSION}: this checker reads version {VERSION} requests."),
    Field("id", "token", 36, 36, role="stamp", ticket="Request id", rules=((
        UUID_PATTERN, "Must be a random UUID (version 4) in lower case, like 0f8fad5b-d9cb-469f-a165-70867728950e."),)),
    Field("created", "token", 20, 20, role="stamp", ticket="Created",
          rules=((CREATED_PATTERN, "Must be a UTC date and time like 2025-06-01T12:30:00Z."),)),
    # The version of the policy the request was made with; another version than today's is fine.
    Field("policy", "line", 1, 100, role="stamp", ticket="Policy version"),
    Field("name", "line", 1, 200, label="Your name", hint="The name support should address you by.",
          missing="Enter your name.", ticket="Name", autocomplete="name"),
    Field("email", "email", 1, 254, label="E-mail address",
          hint="Support replies here. Use the address of your AI4OS account if you have one.",
          missing="Enter your e-mail address.", ticket="E-mail", autocomplete="email", rules=(
              (EMAIL_PATTERN, "Enter an e-mail address like name@example.org."),
              (EMAIL_LOCAL_PATTERN, f"The part before the @ can have at most {EMAIL_LOCAL_MAX} characters."))),
    Field("institution", "line", 1, 200, label="Institution or organisation",
          hint="The university, institute or company you work for.",
          missing="Enter your institution or organisation.", ticket="Institution", autocomplete="organization"),
    Field("projects", "choices", 1, label="Projects", hint="The projects whose resources you want to use.",
          noun="project", ticket="Projects", from_policy="projects"),
    # The form offers the features above basic access (what an upgrade unlocks); any is valid.
    Field("features", "choices", 1, label="What you need", hint="The features you need full access for.",
          noun="feature", ticket="Features", separator="; ", from_policy="features"),
    Field("why", "paragraphs", 20, 4000, label="Why do you need full access?",
          hint="Your use case, and why basic access is not enough for it.",
          missing="Explain why you need full access.", ticket="Why full access is needed"),
    Field("planned_use", "paragraphs", 20, 4000, label="What will you do with it?",
          hint="The models, data and experiments you plan to run.",
          missing="Describe what you plan to do with full access.", ticket="Planned use"),
    Field("resources", "object", record=Resources, children=(
        Field("gpus", "integer", 0, label="GPUs", ticket="GPUs", from_policy="max_gpus",
              hint="How many GPUs you need at the same time, from {minimum} to {maximum}."),
        Field("storage_gb", "integer", 0, label="Storage (GB)", ticket="Storage", unit=("GB", "GB"),
              from_policy="max_storage_gb", hint="How much storage you need in gigabytes, from {minimum} to {maximum}."),
    )),
    Field("duration_months", "integer", 1, label="Duration (months)", ticket="Duration", unit=("month", "months"),
          from_policy="max_months", hint="How long you need full access, from {minimum} to {maximum} months."),
    Field("heard_from", "line", 1, 500, label="How did you hear about the platform?",
          hint="For example a colleague, a workshop, a project's open call or a web search.",
          missing="Tell us how you heard about the platform.", ticket="Heard about the platform from"),
    Field("accepted_aup", "accept", label="I have read and accept the acceptable use policy.",
          hint="Requests can only be sent by readers who accept it.", missing=_AUP, invalid=f"Must be true. {_AUP}",
          ticket="Acceptable use policy", from_policy="acceptable_use"),
    # What the sign-in says about the reader (labels are the page's, tickets the text's); no
    # context, or one the reader gave, is self-reported.
    Field("account", "object", role="context", nullable=True, optional=True, record=Account, ticket="Account",
          invalid="Must be an object (the account context) or null.", children=(
              Field("self_reported", "boolean", default=True, shown=("self-reported", "from the reader's sign-in")),
              Field("subject", "line", 1, 255, nullable=True, label="Account id", ticket="Subject"),
              Field("issuer", "line", 1, 255, nullable=True, label="Issuer", ticket="Issuer", rules=((
                  ISSUER_PATTERN, "Must be an https:// URL (or http://127.0.0.1 for local testing)."),)),
              Field("identity_provider", "line", 1, 100, nullable=True, label="Identity provider",
                    ticket="Identity provider"),
              Field("levels", "project-levels", label="Current levels", ticket="Current levels", default={},
                    invalid="Must be an object mapping project ids to level ids.", from_policy="levels"),
          )),
)


# ---------------------------------------------------------------------------------------------
# Filled in from the policy


def _upgrade_features(policy: Policy) -> set[str]:
    """The features worth asking for: those above the first signed-in level (basic)."""
    if len(policy.levels) < 3:
        return {f.id for f in policy.features}
    first_signed_in = policy.levels[1].rank
    ids = {f.id for f in policy.features if policy.rank(f.level) > first_signed_in}
    return ids or {f.id for f in policy.features}


def _filled(f: Field, policy: Policy) -> Field:
    if f.children:
        f = f._replace(children=tuple(_filled(c, policy) for c in f.children))
    source = f.from_policy
    if not source:
        return f
    if f.kind == "integer":
        maximum = int(getattr(policy.limits, source))
        return f._replace(maximum=maximum, hint=f.hint.format(minimum=f.minimum, maximum=f"{maximum:,}"))
    if f.kind == "accept":
        return f._replace(link=str(getattr(policy.support, source)))
    projects = tuple(Choice(p.id, p.name, p.description) for p in policy.projects)
    if f.kind == "project-levels":
        return f._replace(keys=projects, choices=tuple(Choice(level.id, level.name) for level in policy.levels))
    if source == "projects":
        return f._replace(choices=projects)
    offered = _upgrade_features(policy)
    names = {level.id: level.name for level in policy.levels}
    return f._replace(choices=tuple(
        Choice(feature.id, feature.title, names.get(feature.level, feature.level), feature.id in offered)
        for feature in policy.features
    ))


@for_the_last  # the form asks on every key stroke
def fields_for(policy: Policy) -> tuple[Field, ...]:
    """:data:`FIELDS` with the policy's limits, choices and links filled in."""
    return tuple(_filled(f, policy) for f in FIELDS)


# ---------------------------------------------------------------------------------------------
# Reading the table


def member(values: object, name: str) -> object:
    """A field's value in a document (a mapping) or a record (a NamedTuple); None if absent."""
    if isinstance(values, Mapping):
        return values.get(name)
    if isinstance(values, tuple) and name in getattr(values, "_fields", ()):
        return getattr(values, name)
    return None


def answer_fields(fields: tuple[Field, ...]) -> list[tuple[str, Field]]:
    """The fields the reader fills in, in form order, with their paths (``group.field`` in a group)."""
    out: list[tuple[str, Field]] = []
    for f in fields:
        if f.role == "answer":
            out += [(f"{f.name}.{c.name}", c) for c in f.children] if f.kind == "object" else [(f.name, f)]
    return out


_INPUTS: Final[dict[str, FieldKind]] = {
    "line": "text", "email": "email", "paragraphs": "multiline", "integer": "number", "choices": "checkboxes",
    "accept": "checkbox",
}


def form_inputs(fields: tuple[Field, ...]) -> tuple[FormField, ...]:
    """The form of a table: one input per answer, in order."""
    out: list[FormField] = []
    for path, f in answer_fields(fields):
        kind = _INPUTS[f.kind]
        if kind == "checkboxes":
            offered = tuple(c for c in f.choices if c.offered)
            out.append(FormField(path, f.label, f.hint, kind, minimum=f.minimum, maximum=len(offered), choices=offered))
        elif kind == "checkbox":
            out.append(FormField(path, f.label, f.hint, kind, link=f.link))
        else:
            out.append(FormField(path, f.label, f.hint, kind, minimum=f.minimum, maximum=f.maximum,
                                 autocomplete=f.autocomplete))
    return tuple(out)


def form_fields(policy: Policy) -> tuple[FormField, ...]:
    """The form the UI shows, in order, with labels, hints, bounds and choices from the policy.

    Feature choices are the features above basic access (the only ones an upgrade unlocks);
    validation still accepts any feature of the policy.
    """
    return form_inputs(fields_for(policy))


def context_field(fields: tuple[Field, ...]) -> Field:
    """The field that carries the account context."""
    return next(f for f in fields if f.role == "context")
