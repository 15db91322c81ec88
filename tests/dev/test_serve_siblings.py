"""dev/serve.py sends the siblings the build writes (``compress``) with the right headers.

The runtime folder here holds the start of Pyodide's real WebAssembly file, with ``.br`` and
``.gz`` siblings written by the build's own code (a slice: brotli at quality 11 on the whole
9.6 MB file takes minutes, and the build caches it; tests/site checks the real ones).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator

import brotli  # type: ignore[import-untyped]
import pytest

from sphinx_access_checker import compress
from tests.conftest import NODE_MODULES
from tests.dev.client import make_site, raw_get
from tests.dev.test_serve import Served, servers

RUNTIME = "_static/access-checker/runtime-314.0.8-0123456789ab/"
WASM_SLICE = 64 * 1024


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = make_site(tmp_path_factory.mktemp("site-with-siblings"))
    (root / "_access_checker" / "headers.json").write_text(json.dumps({"headers": {}, "immutable": ["/_static/access-checker/"]}))
    runtime = root / RUNTIME
    runtime.mkdir(parents=True)
    with (NODE_MODULES / "pyodide" / "pyodide.asm.wasm").open("rb") as wasm:
        (runtime / "pyodide.asm.wasm").write_bytes(wasm.read(WASM_SLICE))
    compress.write_siblings([runtime / "pyodide.asm.wasm"], tmp_path_factory.mktemp("cache"))
    with servers(tmp_path_factory.mktemp("serve-logs")) as start_one:
        yield start_one(root)


@pytest.mark.parametrize(
    ("accept", "encoding"),
    [("gzip, deflate, br, zstd", "br"), ("br", "br"), ("gzip, deflate", "gzip"), ("gzip", "gzip"), ("", None),
     ("identity", None)],
)
def test_serve_sends_the_builds_siblings_of_the_webassembly(built: Served, accept: str, encoding: str | None) -> None:
    wasm = built.root / RUNTIME / "pyodide.asm.wasm"
    reply = raw_get(f"{built.url}/{RUNTIME}pyodide.asm.wasm", {"Accept-Encoding": accept} if accept else {})
    assert reply.status == 200
    assert reply.headers.get("Content-Encoding") == encoding
    # The type stays the file's, so that browsers compile the WebAssembly while it streams in.
    assert reply.headers["Content-Type"] == "application/wasm"
    assert reply.headers["Vary"] == "Accept-Encoding"
    assert reply.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert int(reply.headers["Content-Length"]) == len(reply.body)
    # The sibling's own bytes, not a compression made on the fly.
    expected = compress.sibling(wasm, {"br": ".br", "gzip": ".gz"}[encoding]).read_bytes() if encoding else wasm.read_bytes()
    assert reply.body == expected
    decoded = {"br": brotli.decompress, "gzip": gzip.decompress, None: bytes}[encoding](reply.body)
    assert decoded == wasm.read_bytes()
