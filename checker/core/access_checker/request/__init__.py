"""The upgrade request a reader sends to support: model, validation, JSON document, schema, texts.

A reader without full access fills in a form in the page; the browser UI builds the form from
:func:`form_fields`, calls :func:`validate_form` as the reader types and shows each message
next to its field. A valid form becomes an :class:`UpgradeRequest`, which is written as a
canonical JSON document (:func:`to_json`), read back and checked (:func:`validate_document`,
:func:`from_document`) and described by a JSON Schema (:func:`json_schema`); support reads it
as the ticket text (:func:`summary_text`) or in an e-mail (:func:`mailto_url`).

Every field is declared once, in the table of :mod:`access_checker.request.fields` (kind,
bounds, labels, hints, messages); the modules below derive from it:

- :mod:`~access_checker.request.model`: the records (:class:`UpgradeRequest`, …);
- :mod:`~access_checker.request.validation`: documents, the account context and the form's
  result; :mod:`~access_checker.request.form_reader` reads the form's inputs, and
  :mod:`~access_checker.request.text_checks` holds the text checks both share, and
  :mod:`~access_checker.request.prepared` keeps what they derive once per policy and table;
- :mod:`~access_checker.request.document`: the canonical document and the records;
- :mod:`~access_checker.request.schema`: the JSON Schema;
- :mod:`~access_checker.request.outputs`: the ticket text and the ``mailto:`` link.

Public API
----------
``form_fields(policy) -> tuple[FormField, ...]``
    The form, in order: name, label, hint, kind (``text``, ``email``, ``multiline``,
    ``number``, ``checkboxes``, ``checkbox``), bounds and choices, some from the policy.
``validate_form(form, policy, *, account=None, clock=..., new_id=...) -> FormResult``
    ``form`` maps input names (the field's, or ``group.field`` in a group) to what the HTML
    inputs hold. ``FormResult.errors`` maps an input's name to its first message (empty when
    valid); ``FormResult.request`` is the request, stamped with ``new_id()`` and ``clock()``,
    or None.
``check_account(account, policy) -> AccountCheck``
    An account context as a request can carry it, and what is wrong with it.
``new_request(policy, answers, *, account=None, clock=..., new_id=...) -> UpgradeRequest``
    Builds a request from answers that are already clean; raises :class:`RequestError`.
``validate_document(doc, policy) -> list[Problem]``
    Checks a parsed JSON document; ``[]`` when valid. Never raises.
``from_document(doc, policy) -> UpgradeRequest`` (raises :class:`RequestError`),
``to_document(request) -> dict``, ``to_json(request) -> str``
    The canonical document: keys in table order, ids in policy order, 2-space indent,
    ``ensure_ascii=False``, trailing newline.
``json_schema(policy) -> dict``
    JSON Schema (draft 2020-12) of the canonical document, with the policy's ids and limits.
``summary_text(request, policy) -> str``, ``mailto_url(request, policy) -> Mailto``,
``json_filename(request) -> str``
    What support reads (see :mod:`~access_checker.request.outputs`).
"""

from access_checker.policy import Policy
from access_checker.request.document import to_document, to_json
from access_checker.request.fields import EMAIL_LOCAL_MAX, Choice, Field, FieldKind, FormField, form_fields
from access_checker.request.model import (
    KIND,
    SCHEMA_ID,
    VERSION,
    Account,
    AccountCheck,
    FormResult,
    Problem,
    RequestError,
    Resources,
    UpgradeRequest,
)
from access_checker.request.outputs import MAILTO_MAX, SUBJECT, Mailto, json_filename, mailto_url, summary_text
from access_checker.request.validation import (
    check_account,
    from_document,
    new_request,
    validate_document,
    validate_form,
)

__all__ = [
    "EMAIL_LOCAL_MAX",
    "KIND",
    "MAILTO_MAX",
    "SCHEMA_ID",
    "SUBJECT",
    "VERSION",
    "Account",
    "AccountCheck",
    "Choice",
    "Field",
    "FieldKind",
    "FormField",
    "FormResult",
    "Mailto",
    "Problem",
    "RequestError",
    "Resources",
    "UpgradeRequest",
    "check_account",
    "form_fields",
    "from_document",
    "json_filename",
    "json_schema",
    "mailto_url",
    "new_request",
    "summary_text",
    "to_document",
    "to_json",
    "validate_document",
    "validate_form",
]


def json_schema(policy: Policy) -> dict[str, object]:
    """JSON Schema (draft 2020-12) of the canonical document, for this policy's ids and limits.

    Its module is imported on first use: the page never needs it.
    """
    from access_checker.request import schema

    return schema.json_schema(policy)
