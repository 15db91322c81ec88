"""The records: a valid request and what checking one gives back.

The attributes of :class:`UpgradeRequest`, :class:`Resources` and :class:`Account` are the
fields of the table in :mod:`access_checker.request.fields`, in the same order (a test holds
the two together); what each field accepts is written there, not here.
"""

from typing import Final, NamedTuple

KIND: Final = "ai4os.access-upgrade-request"
VERSION: Final = 1
SCHEMA_ID: Final = "urn:ai4os:access-upgrade-request:1"


class Resources(NamedTuple):
    gpus: int
    storage_gb: int


class Account(NamedTuple):
    """What the reader's account says, or what the reader says about it (self-reported).

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
    """One problem in a document: ``field`` is a path like ``account.levels.x`` or ``projects[1]``."""

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
    """``errors`` maps a field's path to its first message; ``request`` is None unless valid."""

    errors: dict[str, str]
    request: UpgradeRequest | None

    @property
    def ok(self) -> bool:
        return self.request is not None


class AccountCheck(NamedTuple):
    """An account context checked as the form checks it.

    ``errors`` maps a path such as ``account.subject`` to its message. ``account`` is what a
    request can carry: the context normalised, with each value that has a problem replaced
    by its default (no value, self-reported, no levels).
    """

    account: Account
    errors: dict[str, str]
