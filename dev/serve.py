"""Serve the built site on loopback with the headers of a production host.

The site is static; what a production host adds, and what the access checker depends
on, is headers: a Content-Security-Policy that allows WebAssembly, long-lived caching
for the versioned runtime files (so browsers reuse compiled wasm) and correct MIME
types. This server reproduces those so that local runs and tests behave as production.

Usage: python dev/serve.py [--root DIR] [--port N] [--host 127.0.0.1] [--quiet]

The headers come from ``<root>/_access_checker/headers.json`` (the Sphinx build writes
it): ``{"headers": {"Name": "value", ...}, "immutable": ["/url/path/prefix/", ...]}``.
Environment: ``PORT`` (default port), ``ISSUER_ORIGIN`` (added to the default CSP's
connect-src), ``ACCESS_CHECKER_CSP_OVERRIDE`` (replaces the CSP; empty removes it).
"""

from __future__ import annotations

import argparse
import email.utils
import gzip
import ipaddress
import json
import mimetypes
import os
import posixpath
import re
import signal
import socket
import sys
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from urllib.parse import quote, unquote, urlsplit

HEADERS_FILE = Path("_access_checker") / "headers.json"
IMMUTABLE_CACHE = "public, max-age=31536000, immutable"
REVALIDATE_CACHE = "no-cache"

# Explicit, because mimetypes depends on the machine's /etc/mime.types and gets some
# of these wrong or leaves them out (.mjs, .wasm, .toml, .whl), and browsers refuse
# module scripts and streaming wasm compilation with the wrong type.
CONTENT_TYPES: dict[str, str] = {
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".css": "text/css",
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".json": "application/json",
    ".map": "application/json",
    ".wasm": "application/wasm",
    ".zip": "application/zip",
    ".whl": "application/zip",
    ".toml": "text/plain; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".svg": "image/svg+xml",
    ".xml": "application/xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".ico": "image/vnd.microsoft.icon",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".ttf": "font/ttf",
    ".eot": "application/vnd.ms-fontobject",
    ".pdf": "application/pdf",
}
# WebAssembly compresses to about a third (9.6 → 3.5 MB for Pyodide), as hosts that compress
# application/wasm send it; zips and wheels are deflated already.
COMPRESSIBLE = frozenset(
    {
        ".wasm",
        ".html",
        ".htm",
        ".css",
        ".js",
        ".mjs",
        ".json",
        ".map",
        ".toml",
        ".svg",
        ".txt",
        ".xml",
    }
)
GZIP_CACHE_BYTES = 64 * 1024 * 1024
HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


class ConfigError(Exception):
    """The headers file is unusable."""


@dataclass(frozen=True)
class HeaderConfig:
    headers: tuple[tuple[str, str], ...]
    immutable: tuple[str, ...]


def default_csp(issuer_origin: str) -> str:
    connect = " ".join(filter(None, ["'self'", issuer_origin.strip()]))
    return (
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; "
        f"connect-src {connect}; object-src 'none'; base-uri 'none'; "
        "frame-ancestors 'none'; form-action 'self'"
    )


def default_headers(issuer_origin: str) -> dict[str, str]:
    return {
        "Content-Security-Policy": default_csp(issuer_origin),
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
    }


def parse_header_config(data: object, source: str) -> tuple[dict[str, str], list[str]]:
    """Validate the build's headers file; header injection must be impossible."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a JSON object")
    headers = data.get("headers", {})
    immutable = data.get("immutable", [])
    if not isinstance(headers, dict):
        raise ConfigError(f"{source}: 'headers' must be an object of name -> value")
    if not isinstance(immutable, list) or not all(isinstance(p, str) for p in immutable):
        raise ConfigError(f"{source}: 'immutable' must be a list of URL path prefixes")
    checked: dict[str, str] = {}
    for name, value in headers.items():
        if not isinstance(name, str) or not HEADER_NAME.match(name):
            raise ConfigError(f"{source}: invalid header name {name!r}")
        if not isinstance(value, str) or any(c in value for c in "\r\n\0"):
            raise ConfigError(f"{source}: header {name}: value must be a one-line string")
        checked[name] = value
    prefixes = [p if p.startswith("/") else "/" + p for p in immutable]
    if "/" in prefixes or "" in immutable:
        raise ConfigError(f"{source}: immutable prefix '/' would cache every page for a year")
    return checked, prefixes


def build_config(
    file_headers: Mapping[str, str] | None,
    immutable: Sequence[str],
    env: Mapping[str, str],
) -> HeaderConfig:
    headers = dict(file_headers) if file_headers is not None else default_headers(env.get("ISSUER_ORIGIN", ""))
    override = env.get("ACCESS_CHECKER_CSP_OVERRIDE")
    if override is not None:
        csp_names = [n for n in headers if n.lower() == "content-security-policy"]
        for name in csp_names:
            del headers[name]
        if override.strip():
            headers["Content-Security-Policy"] = override.strip()
    return HeaderConfig(tuple(headers.items()), tuple(immutable))


class HeaderSource:
    """The headers file, re-read when a rebuild changes it."""

    def __init__(self, root: Path, env: Mapping[str, str], log: _Log) -> None:
        self._path = root / HEADERS_FILE
        self._env = env
        self._log = log
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._config = self._load_initial()

    def _stat(self) -> tuple[int, int] | None:
        try:
            st = self._path.stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def _read(self) -> HeaderConfig:
        try:
            data = json.loads(self._path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ConfigError(f"{self._path}: {exc}") from exc
        headers, immutable = parse_header_config(data, str(self._path))
        return build_config(headers, immutable, self._env)

    def _defaults(self) -> HeaderConfig:
        return build_config(None, (), self._env)

    def _load_initial(self) -> HeaderConfig:
        self._stamp = self._stat()
        if self._stamp is None:
            self._warn_missing()
            return self._defaults()
        return self._read()

    def _warn_missing(self) -> None:
        self._log.warn(f"warning: {self._path} not found; using default security headers")

    def get(self) -> HeaderConfig:
        stamp = self._stat()
        with self._lock:
            if stamp != self._stamp:
                self._stamp = stamp
                if stamp is None:
                    self._warn_missing()
                    self._config = self._defaults()
                else:
                    try:
                        self._config = self._read()
                        self._log.info(f"reloaded {self._path}")
                    except ConfigError as exc:
                        self._log.warn(f"warning: keeping previous headers: {exc}")
            return self._config


class _Log:
    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet

    def info(self, message: str) -> None:
        if not self.quiet:
            print(message, file=sys.stderr, flush=True)

    def warn(self, message: str) -> None:
        print(message, file=sys.stderr, flush=True)


class GzipCache:
    """Compressed bodies by (path, mtime, size): gzip per request would be slow."""

    def __init__(self, limit: int = GZIP_CACHE_BYTES) -> None:
        self._limit = limit
        self._size = 0
        self._items: OrderedDict[tuple[str, int, int], bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, path: Path, mtime_ns: int, size: int) -> bytes:
        key = (str(path), mtime_ns, size)
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
                return hit
        # mtime=0 keeps the output byte-identical across runs.
        data = gzip.compress(path.read_bytes(), compresslevel=6, mtime=0)
        with self._lock:
            if key not in self._items:
                self._items[key] = data
                self._size += len(data)
            while self._size > self._limit and len(self._items) > 1:
                _, old = self._items.popitem(last=False)
                self._size -= len(old)
        return data


def content_type(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in CONTENT_TYPES:
        return CONTENT_TYPES[suffix]
    guessed, _ = mimetypes.guess_type(path.name)
    return guessed or "application/octet-stream"


def accepts_gzip(header: str | None) -> bool:
    if not header:
        return False
    for part in header.split(","):
        token, _, params = part.strip().partition(";")
        if token.strip().lower() not in ("gzip", "*"):
            continue
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        return q > 0
    return False


def etag_matches(header: str, etag: str) -> bool:
    if header.strip() == "*":
        return True
    # If-None-Match uses weak comparison (RFC 9110 13.1.2).
    candidates = [t.strip().removeprefix("W/") for t in header.split(",")]
    return etag.removeprefix("W/") in candidates


class SiteServer(ThreadingHTTPServer):
    daemon_threads = True
    # Lets a restarted `make serve` bind at once instead of waiting for TIME_WAIT.
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        root: Path,
        header_source: HeaderSource,
        log: _Log,
    ) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.root = root
        self.header_source = header_source
        self.log = log
        self.gzip_cache = GzipCache()
        super().__init__(address, SiteHandler)


class SiteHandler(BaseHTTPRequestHandler):
    server: SiteServer
    server_version = "ai4os-docs-dev"
    protocol_version = "HTTP/1.1"
    _cached_config: HeaderConfig | None = None

    # Every response, errors included, goes through here so that none lacks the headers.
    def end_headers(self) -> None:
        for name, value in self._config.headers:
            self.send_header(name, value)
        super().end_headers()

    @property
    def _config(self) -> HeaderConfig:
        config = self._cached_config
        if config is None:
            config = self.server.header_source.get()
            self._cached_config = config
        return config

    def version_string(self) -> str:
        # The stdlib default advertises the Python version; production hosts do not.
        return self.server_version

    def parse_request(self) -> bool:
        # A keep-alive connection serves several requests: re-check the headers file
        # for each one.
        self._cached_config = None
        return super().parse_request()

    def log_message(self, fmt: str, *args: object) -> None:
        self.server.log.info(f"{self.address_string()} - {fmt % args}")

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # The stdlib version sends no Cache-Control; keep every response's explicit.
        status = HTTPStatus(code)
        text = message or status.phrase
        body = (
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{code} {_html(text)}</title></head>"
            f"<body><h1>{code} {_html(text)}</h1></body></html>\n"
        ).encode()
        self.log_error("code %d, message %s", code, text)
        self.send_response(code, text)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Cache-Control", REVALIDATE_CACHE)
        self.send_header("Content-Length", str(len(body)))
        if code == HTTPStatus.METHOD_NOT_ALLOWED:
            self.send_header("Allow", "GET, HEAD")
        if code != HTTPStatus.NOT_FOUND:
            # The request may carry an unread body or be malformed: do not reuse it.
            self.close_connection = True
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if getattr(self, "command", None) != "HEAD" and code >= 200 and code not in (204, 304):
            self.wfile.write(body)

    def do_GET(self) -> None:
        self._serve(send_body=True)

    def do_HEAD(self) -> None:
        self._serve(send_body=False)

    def do_POST(self) -> None:
        self.send_error(HTTPStatus.METHOD_NOT_ALLOWED)

    def do_PUT(self) -> None:
        self.send_error(HTTPStatus.METHOD_NOT_ALLOWED)

    def do_DELETE(self) -> None:
        self.send_error(HTTPStatus.METHOD_NOT_ALLOWED)

    def do_PATCH(self) -> None:
        self.send_error(HTTPStatus.METHOD_NOT_ALLOWED)

    def do_OPTIONS(self) -> None:
        self.send_error(HTTPStatus.METHOD_NOT_ALLOWED)

    def _resolve(self, url_path: str) -> Path | None:
        """Map a URL path to a file or directory inside the root, or None."""
        decoded = unquote(url_path, errors="strict")
        if "\0" in decoded or "\\" in decoded:
            return None
        normalized = posixpath.normpath("/" + decoded)
        root = self.server.root
        candidate = (root / normalized.lstrip("/")).resolve()
        # resolve() follows symlinks: a link pointing outside the root is refused too.
        if candidate != root and root not in candidate.parents:
            return None
        return candidate

    def _serve(self, *, send_body: bool) -> None:
        url = urlsplit(self.path)
        url_path = url.path or "/"
        try:
            target = self._resolve(url_path)
        except UnicodeDecodeError:
            target = None
        if target is not None and target.is_dir():
            if not url_path.endswith("/"):
                location = quote(url_path, safe="/%") + "/" + (f"?{url.query}" if url.query else "")
                self.send_response(HTTPStatus.MOVED_PERMANENTLY)
                self.send_header("Location", location)
                self.send_header("Cache-Control", REVALIDATE_CACHE)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            target = target / "index.html"
        if target is None or not target.is_file():
            self.send_error(HTTPStatus.NOT_FOUND)
            return
        try:
            st = target.stat()
        except OSError:
            self.send_error(HTTPStatus.NOT_FOUND)
            return

        ctype = content_type(target)
        compressible = target.suffix.lower() in COMPRESSIBLE
        use_gzip = compressible and accepts_gzip(self.headers.get("Accept-Encoding"))
        immutable = any(url_path.startswith(p) for p in self._config.immutable)
        etag = f'"{st.st_size:x}-{st.st_mtime_ns:x}{"-gzip" if use_gzip else ""}"'
        last_modified = email.utils.formatdate(st.st_mtime, usegmt=True)

        def common_headers() -> None:
            self.send_header("Cache-Control", IMMUTABLE_CACHE if immutable else REVALIDATE_CACHE)
            self.send_header("ETag", etag)
            self.send_header("Last-Modified", last_modified)
            if compressible:
                self.send_header("Vary", "Accept-Encoding")

        if self._not_modified(etag, st.st_mtime):
            self.send_response(HTTPStatus.NOT_MODIFIED)
            common_headers()
            self.end_headers()
            return

        body: bytes | None = None
        if use_gzip:
            try:
                body = self.server.gzip_cache.get(target, st.st_mtime_ns, st.st_size)
            except OSError:
                self.send_error(HTTPStatus.NOT_FOUND)
                return
        length = len(body) if body is not None else st.st_size

        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(length))
        if use_gzip:
            self.send_header("Content-Encoding", "gzip")
        common_headers()
        self.end_headers()
        if not send_body:
            return
        if body is not None:
            self.wfile.write(body)
            return
        with target.open("rb") as fh:
            while chunk := fh.read(256 * 1024):
                self.wfile.write(chunk)

    def _not_modified(self, etag: str, mtime: float) -> bool:
        if_none_match = self.headers.get("If-None-Match")
        if if_none_match is not None:
            return etag_matches(if_none_match, etag)
        since = self.headers.get("If-Modified-Since")
        if since:
            try:
                parsed = email.utils.parsedate_to_datetime(since)
            except (TypeError, ValueError):
                return False
            return int(mtime) <= int(parsed.timestamp())
        return False


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def default_port() -> int:
    raw = os.environ.get("PORT", "").strip()
    if not raw:
        return 8000
    try:
        return int(raw)
    except ValueError:
        raise SystemExit(f"serve.py: PORT must be an integer, got {raw!r}") from None


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Serve the built docs on loopback with production security headers.")
    parser.add_argument("--root", type=Path, default=Path("_build/html"), help="site directory")
    parser.add_argument("--port", type=int, default=None, help="port (default: $PORT or 8000)")
    parser.add_argument("--host", default="127.0.0.1", help="loopback address (default 127.0.0.1)")
    parser.add_argument("--quiet", action="store_true", help="no access log")
    args = parser.parse_args(argv)
    if not is_loopback(args.host):
        parser.error(
            f"--host {args.host}: refusing a non-loopback address; this development "
            "server must only be reachable from this machine "
            "(use 127.0.0.1, ::1 or localhost)"
        )
    if args.port is None:
        args.port = default_port()
    if not 0 <= args.port <= 65535:
        parser.error(f"--port {args.port}: must be between 0 and 65535")
    return args


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    root: Path = args.root.resolve()
    if not root.is_dir():
        print(
            f"serve.py: {root} is not a directory (build the site first)",
            file=sys.stderr,
        )
        return 2
    log = _Log(args.quiet)
    try:
        header_source = HeaderSource(root, os.environ, log)
    except ConfigError as exc:
        print(f"serve.py: {exc}", file=sys.stderr)
        return 2
    host = args.host.strip("[]")
    try:
        server = SiteServer((host, args.port), root, header_source, log)
    except OSError as exc:
        print(f"serve.py: cannot listen on {host}:{args.port}: {exc}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _terminate)
    port = server.server_address[1]
    shown = f"[{host}]" if ":" in host else host
    print(f"serving {root} at http://{shown}:{port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
