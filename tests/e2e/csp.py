"""Content-Security-Policy helpers: a policy's directives, the meta-tag policies of a page, and
the hash an inline script needs."""

from __future__ import annotations

import base64
import hashlib
import html as html_module
import re


def directives(policy: str) -> dict[str, list[str]]:
    """A policy as directive name -> source list (names lower-cased, order of sources kept)."""
    parsed: dict[str, list[str]] = {}
    for part in policy.split(";"):
        tokens = part.split()
        if tokens:
            name = tokens[0].lower()
            assert name not in parsed, f"directive {name} twice in {policy!r}"
            parsed[name] = tokens[1:]
    return parsed


META_CSP = re.compile(r'<meta\s+http-equiv="Content-Security-Policy"\s+content="([^"]*)"\s*/?>', re.I)
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.S | re.I)


def meta_policies(html: str) -> list[str]:
    return [html_module.unescape(m) for m in META_CSP.findall(html)]


def script_hash(script: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"

