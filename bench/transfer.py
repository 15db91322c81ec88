"""Bytes: what pages download, read from the Resource Timing API of the page *and* of its
workers (the checker's Pyodide files are fetched by its Web Worker, whose requests the page's
own timeline does not hold): ``transferSize`` (bytes on the wire: the encoded body plus
Chromium's fixed 300-byte allowance for headers; 0 for a cache hit) and ``encodedBodySize``;
also gzip -6 of each downloaded body (from the site's files), for the page-weight rules.

- a normal docs page and the landing page, with all their subresources (web fonts included);
- the access-levels page before the click, and once the checker is ready, with the encoding
  each file came in (``Content-Encoding`` as the server sent it: the site's ``.br``/``.gz``
  siblings or the local server's gzip); the same ready page on the reference site (the
  previous runtime layout, ``bench/site.py``) when it is served, for a before/after per file;
- every other page of the site, visited in the tab where the checker was just used (its
  summary is in session storage): each must load zero Pyodide bytes and start no worker.
  Requests are seen through Playwright, which also reports a worker's requests.

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

from playwright.sync_api import BrowserContext, Page, Playwright, Request, Response, Worker

from bench.common import ACCESS_DOC, NORMAL_DOC, BenchError, Deadline, log
from bench.ready import READY_TIMEOUT_MS, WAIT_JS, fresh_profile
from bench.site import BENCH_DIR, url_path_to_file

PYODIDE_NAMES = ("pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.wasm", "pyodide-lock.json")
FONT_SUFFIXES = (".woff2", ".woff", ".ttf", ".otf", ".eot")
IDLE_TIMEOUT_MS = 30_000

TIMING_JS = """
() => [...performance.getEntriesByType("navigation"), ...performance.getEntriesByType("resource")].map((e) => ({
  url: e.name, initiator: e.initiatorType || e.entryType, transfer: e.transferSize || 0,
  encoded: e.encodedBodySize || 0, decoded: e.decodedBodySize || 0, status: e.responseStatus || 0,
}))
"""


def is_pyodide(url: str) -> bool:
    """A request for a Pyodide boot file (or the checker's wheel) on any path."""
    path = urlsplit(url).path
    name = path.rsplit("/", 1)[-1]
    return ("/runtime-" in path or name in PYODIDE_NAMES or name.startswith("python_stdlib")
            or name.endswith(".whl"))


def is_font(url: str) -> bool:
    return urlsplit(url).path.lower().endswith(FONT_SUFFIXES)


class NetLog:
    """What one page (and its workers) requested, through Playwright; encodings as served."""

    def __init__(self, context: BrowserContext, page: Page, root: Path, *, cache: bool = True) -> None:
        self.root = root
        self.page = page
        self.requests: list[dict[str, Any]] = []
        self.workers: list[str] = []
        self.encodings: dict[str, str] = {}
        self._gzip: dict[Path, int] = {}
        context.on("request", self._request)
        context.on("response", self._response)
        page.on("worker", self._worker)
        if not cache:
            cdp = context.new_cdp_session(page)
            cdp.send("Network.enable")
            cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})

    def _request(self, request: Request) -> None:
        if not request.url.startswith(("data:", "blob:")):
            self.requests.append({"url": request.url, "pyodide": is_pyodide(request.url)})

    def _response(self, response: Response) -> None:
        self.encodings[response.url] = response.headers.get("content-encoding", "") or "identity"

    def _worker(self, worker: Worker) -> None:
        self.workers.append(worker.url)

    def mark(self) -> tuple[int, int]:
        return len(self.requests), len(self.workers)

    def since(self, mark: tuple[int, int]) -> tuple[list[dict[str, Any]], list[str]]:
        return self.requests[mark[0]:], self.workers[mark[1]:]

    def _gzip_size(self, path: Path) -> int:
        if path not in self._gzip:
            self._gzip[path] = len(gzip.compress(path.read_bytes(), compresslevel=6, mtime=0))
        return self._gzip[path]

    def timing(self) -> list[dict[str, Any]]:
        """Resource Timing entries of the page and of every worker it runs now, as rows."""
        entries = [(False, e) for e in self.page.evaluate(TIMING_JS)]
        for worker in self.page.workers:
            entries += [(True, e) for e in worker.evaluate(TIMING_JS)]
        rows = []
        for in_worker, e in entries:
            url = e["url"]
            path = url_path_to_file(self.root, url) if urlsplit(url).hostname == "127.0.0.1" else None
            rows.append({
                "url": urlsplit(url).path, "initiator": e["initiator"], "worker": in_worker, "status": e["status"],
                "transferred": int(e["transfer"]), "encoded": int(e["encoded"]), "decoded": int(e["decoded"]),
                "encoding": self.encodings.get(url, "") if e["transfer"] else "(cache)",
                "raw": path.stat().st_size if path else None, "gzip": self._gzip_size(path) if path else None,
                "pyodide": is_pyodide(url), "font": is_font(url),
            })
        return sorted(rows, key=lambda row: (row["url"], -row["transferred"]))


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
    fonts = [row for row in bodies if row["font"]]
    checker = [row for row in bodies if "/_static/access-checker/" in row["url"] and not row["pyodide"]]
    downloads: dict[str, int] = {}
    for row in rows:
        if row["transferred"] > 0:
            downloads[row["url"]] = downloads.get(row["url"], 0) + 1
    return {
        "requests": len(rows),
        "transferred": sum(row["transferred"] for row in rows),
        "encoded": sum(row["encoded"] for row in rows if row["transferred"] > 0),
        "raw": sum(row["raw"] or 0 for row in bodies),
        "gzip": sum(row["gzip"] or 0 for row in bodies),
        "fonts_transferred": sum(row["transferred"] for row in rows if row["font"]),
        "fonts_gzip": sum(row["gzip"] or 0 for row in fonts),
        "fonts": sorted(row["url"].rsplit("/", 1)[-1] for row in fonts),
        "checker_assets_gzip": sum(row["gzip"] or 0 for row in checker),
        "pyodide_requests": len(pyodide),
        "pyodide_transferred": sum(row["transferred"] for row in pyodide),
        "pyodide_raw": sum(row["raw"] or 0 for row in _bodies(pyodide)),
        "encodings": {row["url"].rsplit("/", 1)[-1]: row["encoding"] for row in bodies if row["pyodide"]},
        "downloaded_twice": sorted(url for url, count in downloads.items() if count > 1),
        "failed": [row["url"] for row in rows if row["status"] >= 400],
        "resources": rows,
    }


@contextlib.contextmanager
def _open(pw: Playwright, root: Path, *, cache: bool = True) -> Iterator[tuple[Page, NetLog]]:
    """A page in a new browser profile (a real on-disk HTTP cache, empty), watched."""
    with fresh_profile(pw) as context:
        page = context.pages[0] if context.pages else context.new_page()
        yield page, NetLog(context, page, root, cache=cache)


def _load(page: Page, url: str) -> None:
    page.goto(url, wait_until="networkidle", timeout=IDLE_TIMEOUT_MS)


def _ready(page: Page, what: str) -> None:
    page.click("[data-action=start]")
    outcome = page.evaluate(WAIT_JS, READY_TIMEOUT_MS)
    if outcome != "ready":
        raise BenchError(f"bytes: the checker did not get ready {what} ({outcome})")
    page.wait_for_load_state("networkidle", timeout=IDLE_TIMEOUT_MS)


def _log(key: str, data: dict[str, Any]) -> None:
    log(f"bytes {key}: {data['requests']} requests, {data['transferred']:,} B transferred, {data['gzip']:,} B gzip, "
        f"Pyodide {data['pyodide_transferred']:,} B")


def run(pw: Playwright, site_url: str, root: Path, deadline: Deadline,
        reference: tuple[str, Path] | None = None) -> dict[str, Any]:
    """``reference``: (URL, root) of the reference site, whose ready page is measured too."""
    result: dict[str, Any] = {}
    for name, doc in (("normal", NORMAL_DOC), ("landing", "index")):
        deadline.check(f"bytes of {doc}")
        with _open(pw, root) as (page, net):
            _load(page, f"{site_url}/{doc}.html")
            result[name] = {"page": doc, **totals(net.timing())}
        _log(doc, result[name])

    deadline.check("bytes of the access page")
    with _open(pw, root) as (page, net):
        _load(page, f"{site_url}/{ACCESS_DOC}.html")
        before = net.timing()
        result["access_before_click"] = {"page": ACCESS_DOC, **totals(before)}
        _ready(page, "")
        ready = net.timing()
        result["access_ready"] = {"page": ACCESS_DOC, **totals(ready)}
        # What the click added: the worker's rows and the page's rows beyond those it had.
        seen = {(row["url"], row["transferred"]) for row in before}
        result["access_click_to_ready"] = {"page": ACCESS_DOC,
                                           **totals([row for row in ready if (row["url"], row["transferred"]) not in seen])}
    for key in ("access_before_click", "access_ready"):
        _log(key, result[key])

    if reference is not None:
        reference_url, reference_root = reference
        deadline.check("bytes of the reference site's access page")
        with _open(pw, reference_root) as (page, net):
            _load(page, f"{reference_url}/{ACCESS_DOC}.html")
            _ready(page, "on the reference site")
            result["reference_access_ready"] = {"page": ACCESS_DOC, **totals(net.timing())}
        _log("reference_access_ready", result["reference_access_ready"])

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
            requests, workers = net.since(mark)
            rows = net.timing()
            pyodide = [r["url"] for r in requests if r["pyodide"]]
            others[relative] = {"requests": len(requests), "transferred": sum(r["transferred"] for r in rows),
                                "pyodide_requests": len(pyodide),
                                "pyodide_transferred": sum(r["transferred"] for r in rows if r["pyodide"]),
                                "pyodide_urls": [urlsplit(url).path for url in pyodide], "workers": workers}
        result["other_pages"] = others
        loaded = sum(o["pyodide_requests"] for o in others.values())
        started = sum(len(o["workers"]) for o in others.values())
        log(f"bytes: {len(others)} other pages visited after using the checker, {loaded} Pyodide requests, "
            f"{started} workers started")
    return result
