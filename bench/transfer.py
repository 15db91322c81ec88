"""Bytes: what pages download, transferred (CDP ``Network.loadingFinished`` encodedDataLength:
headers and, where the server compresses, gzip bodies) and as gzip -6 of each resource body.

- a normal docs page and the landing page, with all their subresources;
- the access-levels page before the click, and once the checker is ready;
- every other page of the site, visited in the tab where the checker was just used (its
  summary is in session storage): each must load zero Pyodide bytes.

Each page is measured in a new browser profile (an empty on-disk cache, as in ``ready``). Within a page the HTTP cache
works as usual, so a file the page asks for twice (a preload, then a fetch) counts once unless
it really is downloaded twice; raw and gzip sizes count each downloaded URL once. The sweep of
the other pages runs with the cache disabled (CDP), so that every file they use is requested.
"""

from __future__ import annotations

import contextlib
import gzip
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import CDPSession, Page, Playwright

from bench.common import ACCESS_DOC, NORMAL_DOC, BenchError, Deadline, log
from bench.ready import READY_TIMEOUT_MS, WAIT_JS, fresh_profile
from bench.site import BENCH_DIR, url_path_to_file

PYODIDE_NAMES = ("pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.wasm", "pyodide-lock.json")
IDLE_TIMEOUT_MS = 30_000


def is_pyodide(url: str) -> bool:
    """A request for a Pyodide boot file (or the checker's wheel) on any path."""
    path = urlsplit(url).path
    name = path.rsplit("/", 1)[-1]
    return ("/runtime-" in path or name in PYODIDE_NAMES or name.startswith("python_stdlib")
            or name.endswith(".whl"))


class NetLog:
    """Requests of one page seen through CDP, with sizes from the wire and from the site's files."""

    def __init__(self, cdp: CDPSession, root: Path, *, cache: bool = True) -> None:
        self.root = root
        self.requests: dict[str, dict[str, Any]] = {}
        self._gzip: dict[Path, int] = {}
        cdp.on("Network.requestWillBeSent", self._sent)
        cdp.on("Network.responseReceived", self._response)
        cdp.on("Network.loadingFinished", self._finished)
        cdp.on("Network.loadingFailed", self._failed)
        cdp.send("Network.enable")
        cdp.send("Network.setCacheDisabled", {"cacheDisabled": not cache})

    def _sent(self, event: dict[str, Any]) -> None:
        url = event["request"]["url"]
        if url.startswith(("data:", "blob:")):
            return
        self.requests[event["requestId"]] = {"url": url, "type": event.get("type", ""), "status": None,
                                             "transferred": None, "failed": None}

    def _response(self, event: dict[str, Any]) -> None:
        record = self.requests.get(event["requestId"])
        if record is not None:
            record["status"] = event["response"].get("status")

    def _finished(self, event: dict[str, Any]) -> None:
        record = self.requests.get(event["requestId"])
        if record is not None:
            record["transferred"] = int(event.get("encodedDataLength", 0))

    def _failed(self, event: dict[str, Any]) -> None:
        record = self.requests.get(event["requestId"])
        if record is not None:
            record["failed"] = event.get("errorText", "failed")

    def mark(self) -> set[str]:
        return set(self.requests)

    def _gzip_size(self, path: Path) -> int:
        if path not in self._gzip:
            self._gzip[path] = len(gzip.compress(path.read_bytes(), compresslevel=6, mtime=0))
        return self._gzip[path]

    def resources(self, since: set[str] | None = None) -> list[dict[str, Any]]:
        rows = []
        for request_id, record in self.requests.items():
            if since is not None and request_id in since:
                continue
            path = url_path_to_file(self.root, record["url"]) if urlsplit(record["url"]).hostname == "127.0.0.1" else None
            rows.append({
                "url": urlsplit(record["url"]).path, "type": record["type"], "status": record["status"],
                "transferred": record["transferred"] or 0, "failed": record["failed"],
                "raw": path.stat().st_size if path else None, "gzip": self._gzip_size(path) if path else None,
                "pyodide": is_pyodide(record["url"]),
            })
        return sorted(rows, key=lambda row: row["url"])


def _bodies(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per URL that came over the network (cache hits and repeats left out)."""
    seen: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row["transferred"] > 0 and row["url"] not in seen:
            seen[row["url"]] = row
    return list(seen.values())


def totals(rows: list[dict[str, Any]]) -> dict[str, Any]:
    bodies = _bodies(rows)
    pyodide = [row for row in rows if row["pyodide"]]
    fonts = [row for row in bodies if row["type"] == "Font"]
    checker = [row for row in bodies if "/_static/access-checker/" in row["url"] and not row["pyodide"]]
    downloads: dict[str, int] = {}
    for row in rows:
        if row["transferred"] > 0:
            downloads[row["url"]] = downloads.get(row["url"], 0) + 1
    return {
        "requests": len(rows),
        "transferred": sum(row["transferred"] for row in rows),
        "raw": sum(row["raw"] or 0 for row in bodies),
        "gzip": sum(row["gzip"] or 0 for row in bodies),
        "fonts_gzip": sum(row["gzip"] or 0 for row in fonts),
        "fonts": sorted(row["url"].rsplit("/", 1)[-1] for row in fonts),
        "checker_assets_gzip": sum(row["gzip"] or 0 for row in checker),
        "pyodide_requests": len(pyodide),
        "pyodide_transferred": sum(row["transferred"] for row in pyodide),
        "pyodide_raw": sum(row["raw"] or 0 for row in _bodies(pyodide)),
        "downloaded_twice": sorted(url for url, count in downloads.items() if count > 1),
        "failed": [row["url"] for row in rows if row["failed"] or (row["status"] or 0) >= 400],
        "resources": rows,
    }


@contextlib.contextmanager
def _open(pw: Playwright, root: Path, *, cache: bool = True) -> Iterator[tuple[Page, NetLog]]:
    """A page in a new browser profile (a real on-disk HTTP cache, empty), watched through CDP."""
    with fresh_profile(pw) as context:
        page = context.pages[0] if context.pages else context.new_page()
        yield page, NetLog(context.new_cdp_session(page), root, cache=cache)


def _load(page: Page, url: str) -> None:
    page.goto(url, wait_until="networkidle", timeout=IDLE_TIMEOUT_MS)


def run(pw: Playwright, site_url: str, root: Path, deadline: Deadline) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, doc in (("normal", NORMAL_DOC), ("landing", "index")):
        deadline.check(f"bytes of {doc}")
        with _open(pw, root) as (page, net):
            _load(page, f"{site_url}/{doc}.html")
            result[name] = {"page": doc, **totals(net.resources())}
        log(f"bytes {doc}: {result[name]['requests']} requests, {result[name]['transferred']:,} B transferred, "
            f"{result[name]['gzip']:,} B gzip")

    deadline.check("bytes of the access page")
    with _open(pw, root) as (page, net):
        _load(page, f"{site_url}/{ACCESS_DOC}.html")
        before = net.mark()
        result["access_before_click"] = {"page": ACCESS_DOC, **totals(net.resources())}
        page.click("[data-action=start]")
        outcome = page.evaluate(WAIT_JS, READY_TIMEOUT_MS)
        if outcome != "ready":
            raise BenchError(f"bytes: the checker did not get ready ({outcome})")
        page.wait_for_load_state("networkidle", timeout=IDLE_TIMEOUT_MS)
        result["access_ready"] = {"page": ACCESS_DOC, **totals(net.resources())}
        result["access_click_to_ready"] = {"page": ACCESS_DOC, **totals(net.resources(since=before))}
        for key in ("access_before_click", "access_ready"):
            log(f"bytes {key}: {result[key]['requests']} requests, {result[key]['transferred']:,} B transferred, "
                f"{result[key]['gzip']:,} B gzip, Pyodide {result[key]['pyodide_transferred']:,} B")

    # Every other page, in one tab where the checker was just used, with the cache disabled.
    deadline.check("the other pages")
    with _open(pw, root, cache=False) as (page, net):
        _load(page, f"{site_url}/{ACCESS_DOC}.html")
        page.click("[data-action=start]")
        if page.evaluate(WAIT_JS, READY_TIMEOUT_MS) != "ready":
            raise BenchError("bytes: the checker did not get ready before the sweep of the other pages")
        pages = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.html")
                       if not p.relative_to(root).as_posix().startswith((BENCH_DIR + "/", "_static/", "_sources/")))
        others: dict[str, Any] = {}
        for relative in pages:
            if relative == f"{ACCESS_DOC}.html":
                continue
            deadline.check(f"bytes of {relative}")
            mark = net.mark()
            _load(page, f"{site_url}/{relative}")
            rows = net.resources(since=mark)
            others[relative] = {"requests": len(rows), "transferred": sum(r["transferred"] for r in rows),
                                "pyodide_requests": sum(r["pyodide"] for r in rows),
                                "pyodide_transferred": sum(r["transferred"] for r in rows if r["pyodide"]),
                                "pyodide_urls": [r["url"] for r in rows if r["pyodide"]]}
        result["other_pages"] = others
        loaded = sum(o["pyodide_requests"] for o in others.values())
        log(f"bytes: {len(others)} other pages visited after using the checker, {loaded} Pyodide requests")
    return result
