"""Builds and servers of their own for the hardening tests: strict builds of the real docs, the
staged runtime and wheel inside one, ``dev/serve.py`` on a copy, and plain GETs."""

from __future__ import annotations

import contextlib
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path

from dev.processes import serving
from tests.conftest import DEMO_CLIENT_ID, REPO, sphinx_build

SERVER = REPO / "dev" / "serve.py"


def build(out: Path, *, issuer: str, cache: Path, extra: Sequence[str] = (), read_by: Path | None = None) -> Path:
    """The strict build of the real docs for the demo client of ``issuer``; fails the test if it fails.
    ``read_by``: start from that build's doctrees (``tests.conftest.sphinx_build``)."""
    env = {"ACCESS_CHECKER_OIDC_ISSUER": issuer, "ACCESS_CHECKER_OIDC_CLIENT_ID": DEMO_CLIENT_ID}
    result = sphinx_build(REPO, out, env=env, cache=cache, extra=tuple(extra), read_by=read_by)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    return out


def runtime_dir(root: Path) -> Path:
    """The staged Pyodide folder of a built site."""
    found = sorted((root / "_static" / "access-checker").glob("runtime-*"))
    assert len(found) == 1, f"expected one staged runtime in {root}, found {found}"
    return found[0]


def ui_file(root: Path, name: str) -> Path:
    """One of the widget's own files (widget.mjs, worker.mjs, …) in a built site."""
    found = sorted((root / "_static" / "access-checker").glob(f"ui-*/{name}"))
    assert len(found) == 1, f"expected one staged {name} in {root}, found {found}"
    return found[0]


def wheel_file(root: Path) -> Path:
    found = sorted((root / "_static" / "access-checker").glob("wheel-*/*.whl"))
    assert len(found) == 1, f"expected one staged wheel in {root}, found {found}"
    return found[0]


@contextlib.contextmanager
def serve(root: Path, port: int, *, csp_override: str | None = None, log: Path) -> Iterator[str]:
    """``dev/serve.py`` on ``root``, as ``make serve`` runs it; yields the site URL."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("ACCESS_CHECKER_CSP_OVERRIDE", "PORT", "ISSUER_ORIGIN")}
    if csp_override is not None:
        env["ACCESS_CHECKER_CSP_OVERRIDE"] = csp_override
    url = f"http://127.0.0.1:{port}"
    argv = [sys.executable, str(SERVER), "--root", str(root), "--port", str(port), "--quiet"]
    with serving(argv, url + "/", log=log, env=env, name="serve.py", ready_line="serving "):
        yield url


def fetch(url: str) -> tuple[int, dict[str, str], str]:
    """Status, headers (lower-case names) and text of a GET, error statuses included."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return int(response.status), {k.lower(): v for k, v in response.headers.items()}, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read().decode(errors="replace")

