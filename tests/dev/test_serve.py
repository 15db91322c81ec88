"""The static server (dev/serve.py): production headers, caching, MIME types, compression."""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from dev.processes import REPO, free_port, serving, start, stop, wait_until_serving
from tests.dev.client import Reply, fetch, make_site, raw_get

SERVER = REPO / "dev" / "serve.py"
SITE_CSP = "default-src 'self'; script-src 'self' 'sha256-abc=' 'wasm-unsafe-eval'"
RUNTIME_PREFIX = "/_static/access-checker/runtime-314/"
WASM = b"\0asm\x01\0\0\0" + bytes(4096)
# A stand-in for brotli output: the server sends a sibling as it is, whatever it holds.
FAKE_BROTLI = b"\x1b\x03brotli stand-in"
# mtime=1 tells it from what the server gzips on the fly (mtime=0).
GZIP_SIBLING = gzip.compress(WASM, compresslevel=1, mtime=1)


@dataclass
class Served:
    url: str
    root: Path
    log: Path


Serve = Callable[..., Served]


def serve_argv(root: Path, port: int, *args: str) -> list[str]:
    return [sys.executable, str(SERVER), "--root", str(root), "--port", str(port), *args]


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("ACCESS_CHECKER_CSP_OVERRIDE", "ISSUER_ORIGIN", "PORT")}
    return {**env, **(extra or {})}


@contextlib.contextmanager
def servers(log_dir: Path) -> Iterator[Serve]:
    """``start(root, env=None)`` runs serve.py on ``root`` until the block ends."""
    with contextlib.ExitStack() as running:

        def start_one(root: Path, env: Mapping[str, str] | None = None) -> Served:
            port = free_port()
            log = log_dir / f"serve-{port}.log"
            url = f"http://127.0.0.1:{port}"
            running.enter_context(serving(serve_argv(root, port, "--quiet"), url + "/", log=log, env=clean_env(env),
                                          name="serve.py", ready_line="serving "))
            return Served(url, root, log)

        yield start_one


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    with servers(tmp_path) as start_one:
        yield start_one


def make_static_site(root: Path) -> Path:
    make_site(root)
    (root / "guide").mkdir()
    (root / "guide" / "index.html").write_text("<p>guide</p>\n")  # a dirhtml page
    (root / "404.html").write_text("<p>this page does not exist</p>\n")
    runtime = root / RUNTIME_PREFIX.strip("/")
    runtime.mkdir(parents=True)
    (runtime / "pyodide.asm.wasm").write_bytes(WASM)
    (runtime / "pyodide.mjs").write_text("export const loadPyodide = () => 1;\n" * 50)
    (runtime / "python_stdlib.zip").write_bytes(b"PK\x05\x06" + bytes(18))
    # Precompressed siblings, as a host with precompressed assets has them.
    (runtime / "other.wasm").write_bytes(WASM)
    (runtime / "other.wasm.br").write_bytes(FAKE_BROTLI)
    (runtime / "other.wasm.gz").write_bytes(GZIP_SIBLING)
    static = root / "_static"
    (static / "checker.whl").write_bytes(b"PK\x05\x06" + bytes(18))
    (static / "policy.toml").write_text('[levels]\nbasic = "Basic"\n' * 20)
    (static / "data.json").write_text(json.dumps({"k": list(range(200))}))
    (static / "app.js").write_text("console.log('hello');\n" * 50)
    (static / "style.css").write_text("body { color: black; }\n" * 50)
    (root / "_access_checker" / "headers.json").write_text(
        json.dumps(
            {
                "headers": {"Content-Security-Policy": SITE_CSP, "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff"},
                "immutable": [RUNTIME_PREFIX],
            }
        )
    )
    return root


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = make_static_site(tmp_path_factory.mktemp("static-site"))
    with servers(tmp_path_factory.mktemp("serve-logs")) as start_one:
        yield start_one(root)


def assert_security_headers(reply: Reply) -> None:
    assert reply.headers["Content-Security-Policy"] == SITE_CSP
    assert reply.headers["Referrer-Policy"] == "no-referrer"
    assert reply.headers["X-Content-Type-Options"] == "nosniff"


def test_serve_security_headers_on_every_kind_of_response(served: Served) -> None:
    ok = raw_get(served.url + "/")
    assert ok.status == 200 and b"home" in ok.body
    missing = raw_get(served.url + "/nope.html")
    assert missing.status == 404
    redirect = raw_get(served.url + "/guide")
    assert redirect.status in (301, 307) and redirect.headers["Location"].endswith("/guide/")
    not_modified = raw_get(served.url + "/", {"If-None-Match": ok.headers["ETag"]})
    assert not_modified.status == 304
    post = fetch("POST", served.url + "/", data=b"x")
    assert post.status == 405
    for reply in (ok, missing, redirect, not_modified, post):
        assert_security_headers(reply)
        assert reply.headers["Cache-Control"] == "no-cache"


def test_serve_caches_the_runtime_for_a_year_and_revalidates_the_rest(served: Served) -> None:
    year = "public, max-age=31536000, immutable"
    assert raw_get(served.url + RUNTIME_PREFIX + "pyodide.asm.wasm").headers["Cache-Control"] == year
    etag = raw_get(served.url + RUNTIME_PREFIX + "pyodide.mjs").headers["ETag"]
    revalidated = raw_get(served.url + RUNTIME_PREFIX + "pyodide.mjs", {"If-None-Match": etag})
    assert (revalidated.status, revalidated.headers["Cache-Control"]) == (304, year)
    # A file missing from the runtime folder today may exist after the next build.
    missing = raw_get(served.url + RUNTIME_PREFIX + "later.wasm")
    assert (missing.status, missing.headers["Cache-Control"]) == (404, "no-cache")
    for path in ("/", "/reference/user-access-levels.html", "/_static/policy.toml"):
        assert raw_get(served.url + path).headers["Cache-Control"] == "no-cache", path


def test_serve_conditional_get(served: Served) -> None:
    first = raw_get(served.url + "/_static/data.json")
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    assert raw_get(served.url + "/_static/data.json", {"If-None-Match": etag}).status == 304
    assert raw_get(served.url + "/_static/data.json", {"If-Modified-Since": modified}).status == 304
    assert raw_get(served.url + "/_static/data.json", {"If-None-Match": '"other"'}).status == 200

    target = served.root / "_static" / "data.json"
    target.write_text(json.dumps({"k": "changed"}))
    later = time.time() + 5
    os.utime(target, (later, later))
    changed = raw_get(served.url + "/_static/data.json", {"If-None-Match": etag})
    assert changed.status == 200 and b"changed" in changed.body


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/", "text/html; charset=utf-8"),
        (RUNTIME_PREFIX + "pyodide.asm.wasm", "application/wasm"),
        (RUNTIME_PREFIX + "pyodide.mjs", "text/javascript"),
        (RUNTIME_PREFIX + "python_stdlib.zip", "application/zip"),
        ("/_static/app.js", "text/javascript"),
        ("/_static/checker.whl", "application/zip"),
        ("/_static/data.json", "application/json"),
        ("/_static/style.css", "text/css"),
        ("/_static/policy.toml", "text/plain; charset=utf-8"),
    ],
)
def test_serve_mime_types(served: Served, path: str, content_type: str) -> None:
    assert raw_get(served.url + path).headers["Content-Type"] == content_type


@pytest.mark.parametrize("path", ["/", RUNTIME_PREFIX + "pyodide.mjs", "/_static/style.css", "/_static/policy.toml"])
def test_serve_gzips_text_when_asked(served: Served, path: str) -> None:
    plain = raw_get(served.url + path)
    assert "Content-Encoding" not in plain.headers
    assert plain.headers["Vary"] == "Accept-Encoding"
    packed = raw_get(served.url + path, {"Accept-Encoding": "br, gzip, deflate"})
    assert packed.headers["Content-Encoding"] == "gzip"
    assert packed.headers["Vary"] == "Accept-Encoding"
    assert int(packed.headers["Content-Length"]) == len(packed.body)
    assert gzip.decompress(packed.body) == plain.body
    assert packed.headers["ETag"] != plain.headers["ETag"]
    assert raw_get(served.url + path, {"Accept-Encoding": "gzip", "If-None-Match": packed.headers["ETag"]}).status == 304
    refused = raw_get(served.url + path, {"Accept-Encoding": "gzip;q=0"})
    assert "Content-Encoding" not in refused.headers


def test_serve_gzips_webassembly(served: Served) -> None:
    reply = raw_get(served.url + RUNTIME_PREFIX + "pyodide.asm.wasm", {"Accept-Encoding": "gzip"})
    assert reply.headers["Content-Encoding"] == "gzip"
    assert reply.headers["Content-Type"] == "application/wasm"
    assert gzip.decompress(reply.body) == WASM


@pytest.mark.parametrize("path", [RUNTIME_PREFIX + "python_stdlib.zip", "/_static/checker.whl"])
def test_serve_never_gzips_archives(served: Served, path: str) -> None:
    reply = raw_get(served.url + path, {"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in reply.headers
    assert reply.body == (served.root / path.lstrip("/")).read_bytes()


@pytest.mark.parametrize(
    ("accept", "encoding", "body"),
    [
        ("gzip, deflate, br", "br", FAKE_BROTLI),
        ("br;q=0.5, gzip", "br", FAKE_BROTLI),
        ("br;q=0, gzip", "gzip", GZIP_SIBLING),
        ("*;q=0.1", "br", FAKE_BROTLI),
        ("br;q=0, *", "gzip", GZIP_SIBLING),
        ("gzip;q=0, br;q=0", None, WASM),
        ("", None, WASM),
    ],
    ids=["both-br-wins", "br-lower-q-still-wins", "br-refused", "star", "star-but-br", "both-refused", "none"],
)
def test_serve_sends_precompressed_siblings(served: Served, accept: str, encoding: str | None, body: bytes) -> None:
    path = served.url + RUNTIME_PREFIX + "other.wasm"
    reply = raw_get(path, {"Accept-Encoding": accept} if accept else {})
    assert reply.status == 200
    assert reply.headers.get("Content-Encoding") == encoding
    assert reply.body == body and int(reply.headers["Content-Length"]) == len(body)
    # The representation's type stays the file's: browsers compile wasm while it streams.
    assert reply.headers["Content-Type"] == "application/wasm"
    assert reply.headers["Vary"] == "Accept-Encoding"
    assert reply.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    again = raw_get(path, {"Accept-Encoding": accept, "If-None-Match": reply.headers["ETag"]})
    assert again.status == 304


def test_serve_gives_each_representation_its_own_etag(served: Served) -> None:
    path = served.url + RUNTIME_PREFIX + "other.wasm"
    tags = {raw_get(path, {"Accept-Encoding": accept}).headers["ETag"] for accept in ("br", "gzip", "identity")}
    assert len(tags) == 3
    brotli_tag = raw_get(path, {"Accept-Encoding": "br"}).headers["ETag"]
    assert raw_get(path, {"Accept-Encoding": "gzip", "If-None-Match": brotli_tag}).status == 200


def test_serve_head_and_directory_index(served: Served) -> None:
    assert raw_get(served.url + "/reference/", method="HEAD").status == 404  # no index.html, and no listing
    guide = raw_get(served.url + "/guide/")
    assert guide.status == 200 and guide.body == b"<p>guide</p>\n"
    head = raw_get(served.url + "/", method="HEAD")
    assert head.status == 200 and head.body == b""
    assert int(head.headers["Content-Length"]) == len(raw_get(served.url + "/").body)


def test_serve_answers_unknown_paths_with_the_sites_404_page(served: Served) -> None:
    reply = raw_get(served.url + "/no/such/page.html")
    assert reply.status == 404
    assert b"this page does not exist" in reply.body
    assert reply.headers["Content-Type"] == "text/html; charset=utf-8"


def test_serve_stays_inside_its_root(served: Served) -> None:
    for path in ("/../../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/..%2f..%2fetc%2fpasswd", "/a%00b"):
        reply = raw_get(served.url + path)
        assert reply.status == 404, path
        assert b"root:" not in reply.body
        assert_security_headers(reply)


def test_serve_refuses_links_out_of_its_root_siblings_included(tmp_path: Path, serve: Serve) -> None:
    root = make_static_site(tmp_path / "site")
    secret = tmp_path / "secret.txt"
    secret.write_text("secret outside the root")
    (root / "_static" / "leak.txt").symlink_to(secret)
    (root / "_static" / "app.js.gz").symlink_to(secret)
    server = serve(root)
    assert raw_get(server.url + "/_static/leak.txt").status == 404
    packed = raw_get(server.url + "/_static/app.js", {"Accept-Encoding": "gzip"})
    assert packed.status == 200 and gzip.decompress(packed.body).startswith(b"console.log")


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "::", "example.org"])
def test_serve_refuses_non_loopback_hosts(tmp_path: Path, host: str) -> None:
    result = subprocess.run(serve_argv(tmp_path, free_port(), "--host", host), capture_output=True, text=True,
                            timeout=30, check=False)
    assert result.returncode == 2
    assert "non-loopback" in result.stderr


def test_serve_reports_a_busy_port(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(serve_argv(make_site(tmp_path), port), capture_output=True, text=True, timeout=30,
                                check=False, env=clean_env())
    assert result.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr


def test_serve_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    port, log = free_port(), tmp_path / "serve.log"
    proc = start(serve_argv(make_site(tmp_path / "site"), port), log=log, env=clean_env())
    try:
        wait_until_serving(proc, f"http://127.0.0.1:{port}/", log=log, name="serve.py", ready_line="serving ")
    finally:
        assert stop(proc) == 0, log.read_text()


def test_serve_defaults_without_headers_file(tmp_path: Path, serve: Serve) -> None:
    server = serve(make_site(tmp_path / "site"), {"ISSUER_ORIGIN": "http://127.0.0.1:9999"})
    reply = raw_get(server.url + "/nope")
    csp = reply.headers["Content-Security-Policy"]
    assert "script-src 'self' 'wasm-unsafe-eval'" in csp
    assert "connect-src 'self' http://127.0.0.1:9999;" in csp
    assert "frame-ancestors 'none'" in csp
    assert reply.headers["Referrer-Policy"] == "no-referrer"
    assert reply.headers["X-Content-Type-Options"] == "nosniff"
    assert "headers.json not found" in server.log.read_text()
    # A site without a 404.html gets a plain one.
    assert (reply.status, reply.headers["Content-Type"]) == (404, "text/plain; charset=utf-8")


def test_serve_csp_override(tmp_path: Path, serve: Serve) -> None:
    strict = "default-src 'self'; script-src 'self'"
    server = serve(make_static_site(tmp_path / "site"), {"ACCESS_CHECKER_CSP_OVERRIDE": strict})
    reply = raw_get(server.url + "/")
    assert reply.headers["Content-Security-Policy"] == strict
    assert reply.headers["Referrer-Policy"] == "no-referrer"
    removed = serve(server.root, {"ACCESS_CHECKER_CSP_OVERRIDE": ""})
    assert "Content-Security-Policy" not in raw_get(removed.url + "/").headers


def test_serve_rereads_the_headers_file_when_a_build_changes_it(tmp_path: Path, serve: Serve) -> None:
    server = serve(make_static_site(tmp_path / "site"))
    headers_file = server.root / "_access_checker" / "headers.json"
    config = json.loads(headers_file.read_text())
    config["headers"]["Permissions-Policy"] = "camera=()"
    headers_file.write_text(json.dumps(config))
    later = time.time() + 5
    os.utime(headers_file, (later, later))
    assert raw_get(server.url + "/").headers["Permissions-Policy"] == "camera=()"
    # A broken rewrite keeps the headers in force rather than dropping them.
    headers_file.write_text("{broken")
    os.utime(headers_file, (later + 5, later + 5))
    assert raw_get(server.url + "/").headers["Permissions-Policy"] == "camera=()"


def test_serve_refuses_a_headers_file_that_would_inject_headers(tmp_path: Path) -> None:
    root = make_site(tmp_path / "site")
    (root / "_access_checker" / "headers.json").write_text(json.dumps({"headers": {"X-Test": "a\r\nSet-Cookie: x=1"}}))
    result = subprocess.run(serve_argv(root, free_port()), capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 2
    assert "one-line string" in result.stderr
