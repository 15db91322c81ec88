"""Serve the built site on loopback with the headers of a production host.

The site is static; what a production host adds, and what the access checker depends on, is
headers: a Content-Security-Policy that allows WebAssembly, long-lived caching for the
versioned runtime files (so browsers reuse compiled wasm), correct MIME types and compressed
transfers. This server reproduces those so that local runs and tests behave as production.

Usage: python dev/serve.py [--root DIR] [--port N] [--host 127.0.0.1] [--quiet]

The headers come from ``<root>/_access_checker/headers.json`` (the Sphinx build writes it):
``{"headers": {"Name": "value", ...}, "immutable": ["/url/path/prefix/", ...]}``, re-read when
it changes. Environment: ``PORT`` (default port), ``ISSUER_ORIGIN`` (added to the default
CSP's connect-src when there is no headers file), ``ACCESS_CHECKER_CSP_OVERRIDE`` (replaces the
CSP; empty removes it).

Built on Starlette's ``StaticFiles`` (``html=True``: ``dir/`` serves ``dir/index.html``, as
dirhtml builds need; unknown paths get ``404.html`` when the site has one) under uvicorn:

- ``SiteFiles`` picks the representation once StaticFiles has resolved the path inside the
  root: a precompressed sibling (``<file>.br``, then ``<file>.gz``) when Accept-Encoding allows
  it, as hosts with precompressed assets do. Choosing there, before the 304 check, lets each
  representation have its own ETag.
- The build writes such siblings for every file of ``_static/access-checker/`` (the Pyodide
  runtime, the wheel, the policy, the widget's modules: ``sphinx_access_checker.compress``).
  Other files without a sibling, of a compressible type, are gzipped on the fly, in a worker
  thread, once per file version (kept in memory), as hosts compress pages and styles.
  Compressing per request instead would cost every cold load (every test's fresh browser) the
  compressing again; zips and wheels without a sibling are sent as they are.
- ``ProductionHeaders`` adds the security headers and Cache-Control to every response,
  errors included.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import gzip
import ipaddress
import json
import mimetypes
import os
import re
import signal
import socket
import stat
import sys
from collections.abc import Mapping, Sequence
from email.utils import formatdate
from pathlib import Path
from types import FrameType

import anyio.to_thread
import uvicorn
from starlette.applications import Starlette
from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import FileResponse, Response
from starlette.routing import Mount
from starlette.staticfiles import NotModifiedResponse, StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADERS_FILE = Path("_access_checker") / "headers.json"
IMMUTABLE_CACHE = "public, max-age=31536000, immutable"
REVALIDATE_CACHE = "no-cache"

# Explicit, because mimetypes depends on the machine's /etc/mime.types and gets some of these
# wrong or leaves them out (.mjs, .wasm, .toml, .whl), and browsers refuse module scripts and
# streaming wasm compilation with the wrong type.
CONTENT_TYPES: dict[str, str] = {
    ".html": "text/html; charset=utf-8", ".css": "text/css", ".js": "text/javascript", ".mjs": "text/javascript",
    ".json": "application/json", ".map": "application/json", ".wasm": "application/wasm",
    ".zip": "application/zip", ".whl": "application/zip", ".toml": "text/plain; charset=utf-8",
    ".txt": "text/plain; charset=utf-8", ".svg": "image/svg+xml", ".xml": "application/xml",
    ".ico": "image/vnd.microsoft.icon", ".woff": "font/woff", ".woff2": "font/woff2",
}
COMPRESSIBLE = frozenset({".wasm", ".html", ".css", ".js", ".mjs", ".json", ".map", ".toml", ".svg", ".txt", ".xml"})
# Preference order when the client allows both.
SIBLINGS = (("br", ".br"), ("gzip", ".gz"))
HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


class ConfigError(Exception):
    """The headers file is unusable."""


def default_headers(issuer_origin: str) -> dict[str, str]:
    connect = " ".join(filter(None, ["'self'", issuer_origin.strip()]))
    return {
        "Content-Security-Policy": (
            "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; "
            f"connect-src {connect}; object-src 'none'; base-uri 'none'; "
            "frame-ancestors 'none'; form-action 'self'"
        ),
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
    }


def parse_header_config(data: object, source: str) -> tuple[dict[str, str], tuple[str, ...]]:
    """Validate the build's headers file; header injection must be impossible."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a JSON object")
    headers, immutable = data.get("headers", {}), data.get("immutable", [])
    if not isinstance(headers, dict):
        raise ConfigError(f"{source}: 'headers' must be an object of name -> value")
    if not isinstance(immutable, list) or not all(isinstance(p, str) and p.strip("/") for p in immutable):
        raise ConfigError(f"{source}: 'immutable' must list URL path prefixes below '/' (not '/' itself)")
    for name, value in headers.items():
        if not HEADER_NAME.match(name):
            raise ConfigError(f"{source}: invalid header name {name!r}")
        if not isinstance(value, str) or not value.isascii() or any(c in value for c in "\r\n\0"):
            raise ConfigError(f"{source}: header {name}: value must be a one-line string of ASCII characters")
    return dict(headers), tuple(p if p.startswith("/") else "/" + p for p in immutable)


class HeaderSource:
    """The headers file, re-read when a rebuild changes it."""

    def __init__(self, root: Path, env: Mapping[str, str], quiet: bool) -> None:
        self.path, self.env, self.quiet = root / HEADERS_FILE, env, quiet
        self.stamp = self._stat()
        self.config = self._load()

    def _stat(self) -> tuple[int, int] | None:
        try:
            st = self.path.stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def _load(self) -> tuple[list[tuple[str, str]], tuple[str, ...]]:
        immutable: tuple[str, ...] = ()
        if self.stamp is None:
            print(f"warning: {self.path} not found; using default security headers", file=sys.stderr, flush=True)
            headers = default_headers(self.env.get("ISSUER_ORIGIN", ""))
        else:
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise ConfigError(f"{self.path}: {exc}") from exc
            headers, immutable = parse_header_config(data, str(self.path))
        override = self.env.get("ACCESS_CHECKER_CSP_OVERRIDE")
        if override is not None:
            headers = {k: v for k, v in headers.items() if k.lower() != "content-security-policy"}
            if override.strip():
                headers["Content-Security-Policy"] = override.strip()
        return list(headers.items()), immutable

    def get(self) -> tuple[list[tuple[str, str]], tuple[str, ...]]:
        stamp = self._stat()
        if stamp != self.stamp:
            self.stamp = stamp
            try:
                self.config = self._load()
                if not self.quiet:
                    print(f"reloaded {self.path}", file=sys.stderr, flush=True)
            except ConfigError as exc:
                print(f"warning: keeping the previous headers: {exc}", file=sys.stderr, flush=True)
        return self.config


class ProductionHeaders:
    """ASGI middleware: the security headers and Cache-Control on every response."""

    def __init__(self, app: ASGIApp, source: HeaderSource) -> None:
        self.app, self.source = app, source

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers, immutable = self.source.get()
        path: str = scope["path"]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                out = MutableHeaders(scope=message)
                # A missing file under an immutable prefix must not be cached for a year.
                versioned = message["status"] in (200, 206, 304) and path.startswith(immutable)
                out["Cache-Control"] = IMMUTABLE_CACHE if versioned else REVALIDATE_CACHE
                for name, value in headers:
                    out.append(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def content_type(path: Path) -> str:
    return CONTENT_TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def accepted_codings(header: str) -> set[str]:
    """Which of br and gzip Accept-Encoding allows: q=0 refuses, ``*`` stands for unlisted ones."""
    weights: dict[str, float] = {}
    for part in header.split(","):
        coding, _, params = part.partition(";")
        weight = 1.0
        for param in params.split(";"):
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        if coding.strip():
            weights[coding.strip().lower()] = weight
    return {coding for coding, _ in SIBLINGS if weights.get(coding, weights.get("*", 0.0)) > 0}


def etag(st: os.stat_result, coding: str = "") -> str:
    return f'"{st.st_size:x}-{st.st_mtime_ns:x}{"-" + coding if coding else ""}"'


# Keyed by file version, so a rebuilt file is compressed again. 512 bodies is more than the
# site has compressible files.
@functools.lru_cache(maxsize=512)
def gzipped(path: str, mtime_ns: int, size: int) -> bytes:
    # mtime=0 keeps the output byte-identical across runs.
    return gzip.compress(Path(path).read_bytes(), compresslevel=6, mtime=0)


class GzipResponse(Response):
    """A file gzipped on the fly: compressed in a worker thread, once per file version."""

    def __init__(self, path: Path, st: os.stat_result, status_code: int, headers: Mapping[str, str]) -> None:
        super().__init__(None, status_code, headers)
        self.key = (str(path), st.st_mtime_ns, st.st_size)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.body = await anyio.to_thread.run_sync(gzipped, *self.key)
        self.headers["Content-Length"] = str(len(self.body))
        await super().__call__(scope, receive, send)


class SiteFiles(StaticFiles):
    """StaticFiles with production MIME types and compressed representations."""

    def _sibling(self, full_path: str, suffix: str) -> tuple[str, os.stat_result] | None:
        # Looked up like any request path, so a sibling symlinked out of the root is refused.
        relative = os.path.relpath(full_path + suffix, os.path.realpath(str(self.directory)))
        found, st = self.lookup_path(relative)
        return (found, st) if st is not None and stat.S_ISREG(st.st_mode) else None

    def file_response(
        self, full_path: str | os.PathLike[str], stat_result: os.stat_result, scope: Scope, status_code: int = 200
    ) -> Response:
        path = Path(full_path)
        siblings = {coding: hit for coding, suffix in SIBLINGS if (hit := self._sibling(str(path), suffix))}
        compressible = path.suffix.lower() in COMPRESSIBLE
        request = Headers(scope=scope)
        allowed = accepted_codings(request.get("accept-encoding", ""))
        chosen = next((c for c, _ in SIBLINGS if c in allowed and (c in siblings or (c == "gzip" and compressible))), "")
        headers = {"Content-Type": content_type(path)}
        if siblings or compressible:
            headers["Vary"] = "Accept-Encoding"
        if chosen:
            headers["Content-Encoding"] = chosen
        response: Response
        if chosen in siblings:
            sibling, sibling_stat = siblings[chosen]
            headers["ETag"] = etag(sibling_stat, chosen)
            response = FileResponse(sibling, status_code, headers, stat_result=sibling_stat)
        elif chosen:
            headers["ETag"] = etag(stat_result, chosen)
            headers["Last-Modified"] = formatdate(stat_result.st_mtime, usegmt=True)
            response = GzipResponse(path, stat_result, status_code, headers)
        else:
            headers["ETag"] = etag(stat_result)
            response = FileResponse(path, status_code, headers, stat_result=stat_result)
        if self.is_not_modified(response.headers, request):
            return NotModifiedResponse(response.headers)
        return response


def create_app(root: Path, source: HeaderSource) -> ASGIApp:
    return ProductionHeaders(Starlette(routes=[Mount("/", app=SiteFiles(directory=root, html=True))]), source)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Serve the built docs on loopback with production security headers.")
    parser.add_argument("--root", type=Path, default=Path("_build/html"), help="site directory")
    parser.add_argument("--port", type=int, default=None, help="port (default: $PORT or 8000)")
    parser.add_argument("--host", default="127.0.0.1", help="loopback address (default 127.0.0.1)")
    parser.add_argument("--quiet", action="store_true", help="no access log")
    args = parser.parse_args(argv)
    if not is_loopback(args.host):
        parser.error(
            f"--host {args.host}: refusing a non-loopback address; this development server must only "
            "be reachable from this machine (use 127.0.0.1, ::1 or localhost)"
        )
    if args.port is None:
        raw = os.environ.get("PORT", "").strip() or "8000"
        if not raw.isdigit():
            parser.error(f"PORT must be an integer, got {raw!r}")
        args.port = int(raw)
    if not 0 <= args.port <= 65535:
        parser.error(f"--port {args.port}: must be between 0 and 65535")
    return args


def listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    # Lets a restarted `make serve` bind at once instead of waiting for TIME_WAIT.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


def _terminate(signum: int, frame: FrameType | None) -> None:
    # uvicorn shuts down gracefully on SIGTERM, then re-raises it: end with status 0 then.
    raise SystemExit(0)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    root: Path = args.root.resolve()
    if not root.is_dir():
        print(f"serve.py: {root} is not a directory (build the site first)", file=sys.stderr)
        return 2
    try:
        source = HeaderSource(root, os.environ, args.quiet)
    except ConfigError as exc:
        print(f"serve.py: {exc}", file=sys.stderr)
        return 2
    host = args.host.strip("[]")
    try:
        sock = listen(host, args.port)
    except OSError as exc:
        print(f"serve.py: cannot listen on {host}:{args.port}: {exc}", file=sys.stderr)
        return 2
    config = uvicorn.Config(
        create_app(root, source),
        log_level="warning" if args.quiet else "info",
        access_log=not args.quiet,
        server_header=False,  # production hosts do not advertise their software either
        lifespan="off",
        ws="none",
        timeout_graceful_shutdown=2,
    )
    shown = f"[{host}]" if ":" in host else host
    print(f"serving {root} at http://{shown}:{sock.getsockname()[1]}", flush=True)
    signal.signal(signal.SIGTERM, _terminate)
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C in a terminal
        uvicorn.Server(config).run(sockets=[sock])
    return 0


if __name__ == "__main__":
    sys.exit(main())
