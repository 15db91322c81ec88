"""The request draft kept in localStorage: form fields only, per account, for 30 days."""

from __future__ import annotations

import json
from typing import Final

PREFIX: Final = "access-checker:"
DRAFT_PREFIX: Final = PREFIX + "draft:"
SUMMARY_KEY: Final = PREFIX + "summary"
CLAIMS_KEY: Final = PREFIX + "claims"
LIFETIME: Final = 30 * 24 * 3600
FormValues = dict[str, str | list[str] | bool]


def draft_key(subject: str | None) -> str:
    """One draft per account, so a shared browser does not mix two people's requests."""
    return DRAFT_PREFIX + (subject or "anonymous")


def dump(values: FormValues, request_id: str, now: float) -> str:
    return json.dumps({"version": 1, "saved": int(now), "id": request_id, "fields": values})


def load(text: str | None, now: float) -> tuple[FormValues, str] | None:
    """The saved fields and request id, or None when absent, expired or unreadable."""
    if not text:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("version") != 1:
        return None
    saved, fields, request_id = data.get("saved"), data.get("fields"), data.get("id")
    if not isinstance(saved, int) or now - saved > LIFETIME or not isinstance(fields, dict) or not isinstance(request_id, str):
        return None
    clean: FormValues = {}
    for key, value in fields.items():
        if isinstance(value, (str, bool)):
            clean[str(key)] = value
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            clean[str(key)] = list(value)
    return clean, request_id
