"""The JSON Schema (draft 2020-12) of the canonical document, derived from the fields table.

It states the validator's rules: a document passes one exactly when it passes the other (the
property tests check this with ``jsonschema``). Patterns use only ECMA-262 syntax that
Python's ``re`` reads the same way; they are meant with Unicode (``u`` flag) semantics, as
JSON Schema validators apply them. Regex dialects whose ``$`` also matches before a final
line break (Python, PCRE) are covered by a ``not`` that rejects a trailing line break.
"""

from __future__ import annotations

from access_checker.policy import Policy
from access_checker.request.fields import Field, fields_for
from access_checker.request.model import SCHEMA_ID, VERSION
from access_checker.text import LINE_PATTERN, PARAGRAPHS_PATTERN


def _patterns(f: Field) -> dict[str, object]:
    if len(f.rules) == 1:
        return {"pattern": f.rules[0][0]}
    return {"allOf": [{"pattern": pattern} for pattern, _ in f.rules]} if f.rules else {}


def _type(name: str, f: Field) -> str | list[str]:
    return [name, "null"] if f.nullable else name


def _schema(f: Field) -> dict[str, object]:
    kind = f.kind
    if kind == "constant":
        return {"type": "integer", "const": f.value} if isinstance(f.value, int) else {"const": f.value}
    if kind == "token":
        return {"type": "string", **_patterns(f), "minLength": f.minimum, "maxLength": f.maximum}
    if kind in ("line", "email", "paragraphs"):
        text = "paragraphs" if kind == "paragraphs" else "line"
        return {"type": _type("string", f), "$ref": f"#/$defs/{text}", "minLength": f.minimum, "maxLength": f.maximum,
                **_patterns(f)}
    if kind == "choices":
        return {"type": "array", "items": {"enum": [c.value for c in f.choices]}, "minItems": max(f.minimum, 1),
                "uniqueItems": True}
    if kind == "integer":
        return {"type": "integer", "minimum": f.minimum, "maximum": f.maximum}
    if kind == "accept":
        return {"const": True}
    if kind == "boolean":
        return {"type": "boolean"}
    levels = [c.value for c in f.choices]
    if kind == "project-levels":
        return {"type": "object", "additionalProperties": False,
                "properties": {k.value: {"enum": levels} for k in f.keys}}
    return {"type": _type("object", f), **_object(f.children)}


def _object(fields: tuple[Field, ...]) -> dict[str, object]:
    return {
        "required": [f.name for f in fields if not f.optional],
        "additionalProperties": False,
        "properties": {f.name: _schema(f) for f in fields},
    }


def schema_of(fields: tuple[Field, ...], title: str, description: str) -> dict[str, object]:
    """The JSON Schema of a document with these fields."""
    no_final_newline = {"type": "string", "pattern": r"\n$"}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": title,
        "description": description,
        "type": "object",
        **_object(fields),
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


def json_schema(policy: Policy) -> dict[str, object]:
    """JSON Schema (draft 2020-12) of the canonical document, for this policy's ids and limits."""
    return schema_of(
        fields_for(policy),
        "AI4OS access upgrade request",
        f"A reader's request for full access, version {VERSION}, for policy {policy.id} "
        f"(version {policy.version}). Text is trimmed, uses \\n line breaks and has no "
        "control, bidirectional-override or separator characters.",
    )
