"""The Content-Security-Policy of the site: one policy, as a header file and as a ``<meta>`` tag.

The theme puts a few inline scripts in its pages (sphinx-rtd-theme's navigation and search
bootstraps). Rather than allow ``'unsafe-inline'``, the build hashes each inline script it
wrote and lists the hashes in the policy. The same policy goes to:

- ``_access_checker/headers.json`` in the output, which ``dev/serve.py`` (and a deployment
  script for a host that sets headers) reads, with the runtime's immutable path prefix;
- a ``<meta http-equiv>`` tag in every page (minus ``frame-ancestors``, which a meta tag
  cannot carry), for hosts that cannot set headers.

Pages are post-processed when the build finishes, because only then are the theme's inline
scripts known. Every HTML page of the output is scanned, not only the pages this process wrote:
under ``-j`` pages are written in forked processes whose records never reach this one, and an
incremental build leaves unchanged pages on disk that still need the policy. Hashes of scripts
that no page carries any more drop out. A page is rewritten only when its tag changes.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from sphinx.application import Sphinx
from sphinx.config import Config

from sphinx_access_checker.assets import HTML_BUILDERS, staged

HEADERS_FILE: Final = Path("_access_checker") / "headers.json"
_INLINE_SCRIPT: Final = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.S)
_META: Final = re.compile(r'\s*<meta http-equiv="Content-Security-Policy"[^>]*>')


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def policy_text(config: Config, script_hashes: list[str], *, for_meta: bool) -> str:
    connect = ["'self'", _origin(config.access_checker_oidc_issuer), *map(_origin, config.access_checker_csp_extra_connect)]
    directives = [
        "default-src 'self'",
        "script-src " + " ".join(["'self'", "'wasm-unsafe-eval'", *(f"'{h}'" for h in script_hashes)]),
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src " + " ".join(dict.fromkeys(connect)),
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
    ]
    if not for_meta:
        directives.append("frame-ancestors 'none'")
    return "; ".join(directives)


def _hash(script: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()


def _finish(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.name not in HTML_BUILDERS:
        return
    outdir = Path(app.builder.outdir)
    headers_path = outdir / HEADERS_FILE
    pages = sorted(p for p in outdir.rglob("*.html") if p.relative_to(outdir).parts[0] != "_static")
    written = {page: page.read_text(encoding="utf-8") for page in pages}
    # Without their previous tag: the tag itself is not a script, and it is rewritten below.
    texts = {page: _META.sub("", text) for page, text in written.items()}
    hashes = sorted({_hash(script) for text in texts.values() for script in _INLINE_SCRIPT.findall(text)})
    meta = policy_text(app.config, hashes, for_meta=True)
    tag = f'<meta http-equiv="Content-Security-Policy" content="{meta}">'
    for page, text in texts.items():
        if app.config.access_checker_csp_meta:
            text = text.replace("<head>", f"<head>\n  {tag}", 1)
        if text != written[page]:
            page.write_text(text, encoding="utf-8")
    runtime = "/" + staged(outdir).runtime.split("/runtime-")[0] + "/"
    headers_path.parent.mkdir(parents=True, exist_ok=True)
    headers_path.write_text(json.dumps({
        "headers": {
            "Content-Security-Policy": policy_text(app.config, hashes, for_meta=False),
            "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff",
        },
        # Every file under the staged folder has a content-versioned name.
        "immutable": [runtime],
        "script_hashes": hashes,
    }, indent=2) + "\n")


def setup(app: Sphinx) -> None:
    app.connect("build-finished", _finish)
