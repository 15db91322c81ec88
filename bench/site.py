"""The site the browser benchmarks run against: built like the e2e tests build it, plus the
baseline pages under ``_bench/``, served by the local stack (``dev/stack.py``).

- ``_bench/bare-worker.html``: boots the site's own Pyodide files (the runtime folder the widget
  names in ``data-runtime``, and its ``data-stdlib`` when it has one) in a module Web Worker,
  with the options the widget's worker gives ``loadPyodide`` (the lock file's contents from
  ``data-runtime-lock``), and runs ``1+1``;
- ``_bench/bare.html``: the same on the page's main thread;
- ``_bench/stock.html``: the main-thread page on ``_bench/stock/``, a copy of the npm package's
  boot files as shipped (the stock ``python_stdlib.zip``, sources only; no lock contents).

The stock copy gets the runtime's caching headers (``immutable``), so that both are cached alike.

The *reference* site (:func:`prepare_reference`) is a copy of the built site in the runtime
layout the site had before precompressed siblings and a trimmed standard library: the full
stdlib compiled as the build compiled it then (docstrings and column positions kept, about
4.5 MB deflated: ``bench/reference_stdlib.py``), the wheel's members deflated, and no
``.br``/``.gz`` siblings. It is served by a second server.
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

from bench.common import ACCESS_DOC, DEMO_CLIENT_ID, NODE_MODULES, PYODIDE_NPM, REPO, BenchError, log

BARE_SOURCES = Path(__file__).resolve().parent / "bare"
PINS = REPO / "checker" / "sphinx" / "sphinx_access_checker" / "pyodide-sha256.json"
BENCH_DIR = "_bench"
BUILD_TIMEOUT = 600


def demo_env(idp_port: int) -> dict[str, str]:
    return {"ACCESS_CHECKER_OIDC_ISSUER": f"http://127.0.0.1:{idp_port}", "ACCESS_CHECKER_OIDC_CLIENT_ID": DEMO_CLIENT_ID}


def sphinx_command(srcdir: Path, outdir: Path, cache: Path | None, *, quiet: bool = True) -> list[str]:
    """The strict build as the tests run it; ``cache`` None: a build without the extension."""
    command = [sys.executable, "-m", "sphinx", "-n", "-W", "--keep-going", "-b", "html"]
    if quiet:
        command.append("-q")
    if cache is not None:
        command += ["-D", f"access_checker_node_modules={NODE_MODULES}", "-D", f"access_checker_cache_dir={cache}"]
    return [*command, str(srcdir), str(outdir)]


def run_build(command: list[str], env: dict[str, str]) -> float:
    """Run one build in its own process; its wall time in seconds. A failed build raises."""
    # Warm builds reuse Python's bytecode cache. A sandbox that turns it off
    # (PYTHONDONTWRITEBYTECODE) would have every build compile the extension and the core
    # from source, which a maintainer's builds after the first do not.
    inherited = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}
    start = time.perf_counter()
    try:
        done = subprocess.run(command, capture_output=True, text=True, env={**inherited, **env},
                              timeout=BUILD_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise BenchError(f"build took over {BUILD_TIMEOUT} s: {' '.join(command)}") from None
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise BenchError(f"build failed (exit {done.returncode}): {' '.join(command)}\n"
                         f"{(done.stdout + done.stderr)[-3000:]}")
    return elapsed


class _WidgetAttrs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.attrs: dict[str, str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if self.attrs is None and "data-access-checker" in found:
            self.attrs = {name: value or "" for name, value in found.items()}


def widget_attrs(page: Path) -> dict[str, str]:
    parser = _WidgetAttrs()
    parser.feed(page.read_text(encoding="utf-8"))
    if parser.attrs is None:
        raise BenchError(f"{page} has no [data-access-checker] element")
    return parser.attrs


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def url_path_to_file(root: Path, url_path: str) -> Path | None:
    """The file of the built site that serves ``url_path`` (None outside the site)."""
    relative = unquote(urlsplit(url_path).path).lstrip("/")
    candidate = (root / relative).resolve()
    if candidate != root and root not in candidate.parents:
        return None
    if candidate.is_dir():
        candidate = candidate / "index.html"
    return candidate if candidate.is_file() else None


@dataclass
class Site:
    root: Path
    access_path: str
    runtime_path: str
    stdlib_path: str
    """The stdlib zip the widget boots with (its data-stdlib, else the runtime's own)."""
    stdlib: dict[str, Any] = field(default_factory=dict)
    """What the build ships as the stdlib: compiled or stock, with the evidence."""
    attrs: dict[str, str] = field(default_factory=dict)

    @property
    def compiled(self) -> bool:
        return bool(self.stdlib.get("compiled"))


def _describe_stdlib(root: Path, stdlib_path: str, runtime_path: str, attrs: dict[str, str]) -> dict[str, Any]:
    stock = PYODIDE_NPM / "python_stdlib.zip"
    served = url_path_to_file(root, stdlib_path)
    if served is None:
        raise BenchError(f"the widget's stdlib {stdlib_path} is not in the built site")
    with zipfile.ZipFile(served) as archive:
        names = archive.namelist()
    pyc = sum(name.endswith(".pyc") for name in names)
    py = sum(name.endswith(".py") for name in names)
    identical = _sha256(served) == _sha256(stock)
    runtime_dir = url_path_to_file(root, runtime_path + "pyodide.mjs")
    others = sorted(p.name for p in runtime_dir.parent.glob("python_stdlib*")) if runtime_dir else []
    compiled = not identical and pyc > 0
    widget = f"widget data-stdlib={attrs['data-stdlib']}" if attrs.get("data-stdlib") else "no data-stdlib on the widget"
    evidence = (f"{stdlib_path}: {served.stat().st_size:,} bytes, {pyc} .pyc and {py} .py members, "
                + ("identical to" if identical else "different from") + f" the npm python_stdlib.zip; {widget}")
    return {"compiled": compiled, "url": stdlib_path, "bytes": served.stat().st_size, "pyc_members": pyc,
            "py_members": py, "identical_to_stock": identical, "runtime_stdlib_files": others,
            "data_stdlib": attrs.get("data-stdlib", ""), "evidence": evidence}


def install_bench_pages(root: Path, runtime_path: str, stdlib_path: str, lock: str) -> None:
    """Copy the bare pages and the stock npm files into the built site (its ``_bench/``)."""
    bench = root / BENCH_DIR
    stock = bench / "stock"
    stock.mkdir(parents=True, exist_ok=True)
    for name in json.loads(PINS.read_text())["files"]:
        shutil.copyfile(PYODIDE_NPM / name, stock / name)
    for script in sorted(BARE_SOURCES.glob("*.mjs")):
        shutil.copyfile(script, bench / script.name)
    template = (BARE_SOURCES / "bare.html").read_text(encoding="utf-8")
    default_stdlib = runtime_path + "python_stdlib.zip"
    stdlib = "" if stdlib_path == default_stdlib else stdlib_path
    pages = {  # thread, runtime folder, stdlib URL, lock file contents
        "bare.html": ("main", runtime_path, stdlib, lock),
        "bare-worker.html": ("worker", runtime_path, stdlib, lock),
        "stock.html": ("main", f"/{BENCH_DIR}/stock/", "", ""),
    }
    for name, (thread, runtime, stdlib_url, lock_text) in pages.items():
        filled = {"@THREAD@": thread, "@RUNTIME@": runtime, "@STDLIB@": stdlib_url, "@LOCK@": lock_text}
        text = template
        for placeholder, value in filled.items():
            text = text.replace(placeholder, html.escape(value, quote=True))
        (bench / name).write_text(text, encoding="utf-8")
    # The stock copy is cached like the site's versioned runtime (a year, immutable): same
    # headers for both, so that only the files differ.
    headers_file = root / "_access_checker" / "headers.json"
    if headers_file.is_file():
        headers = json.loads(headers_file.read_text())
        immutable = headers.setdefault("immutable", [])
        if f"/{BENCH_DIR}/stock/" not in immutable:
            immutable.append(f"/{BENCH_DIR}/stock/")
        headers_file.write_text(json.dumps(headers, indent=2) + "\n")


def prepare_site(work: Path, cache: Path, idp_port: int) -> tuple[Site, float]:
    """Build the site (demo sign-in on ``idp_port``) and add the baseline pages; (site, build seconds)."""
    out = work / "site"
    log(f"building the site into {out} (demo provider on port {idp_port})")
    seconds = run_build(sphinx_command(REPO, out, cache), demo_env(idp_port))
    log(f"site built in {seconds:.1f} s")
    access_path = f"/{ACCESS_DOC}.html"
    attrs = widget_attrs(out / f"{ACCESS_DOC}.html")
    runtime_path = urljoin(access_path, attrs.get("data-runtime", ""))
    if not attrs.get("data-runtime") or not runtime_path.endswith("/"):
        raise BenchError(f"unexpected data-runtime {attrs.get('data-runtime')!r} on the access page")
    stdlib_path = urljoin(access_path, attrs["data-stdlib"]) if attrs.get("data-stdlib") else runtime_path + "python_stdlib.zip"
    stdlib = _describe_stdlib(out, stdlib_path, runtime_path, attrs)
    install_bench_pages(out, runtime_path, stdlib_path, attrs.get("data-runtime-lock", ""))
    log(f"runtime {runtime_path}; stdlib: {stdlib['evidence']}")
    return Site(out, access_path, runtime_path, stdlib_path, stdlib, attrs), seconds


# ---- the reference site: the runtime layout before precompression and trimming ----------------

SIBLING_SUFFIXES = (".br", ".gz", ".zst")
"""Precompressed siblings (``<file>.br`` beside ``<file>``) that a server may send instead."""


def zip_layout(path: Path, stock_modules: set[str] | None = None) -> dict[str, Any]:
    """What a stdlib zip holds: .pyc and .py members, how its files are compressed, and (given
    the stock zip's modules) whether it covers every one of them as bytecode."""
    with zipfile.ZipFile(path) as archive:
        infos = [i for i in archive.infolist() if not i.is_dir()]
    names = {i.filename for i in infos}
    pyc = {n[:-4] for n in names if n.endswith(".pyc")}
    py = {n[:-3] for n in names if n.endswith(".py")}
    deflated = sum(i.compress_type == zipfile.ZIP_DEFLATED for i in infos)
    stored = sum(i.compress_type == zipfile.ZIP_STORED for i in infos)
    compression = "deflated" if stored == 0 else "stored" if deflated == 0 else f"mixed ({deflated} deflated, {stored} stored)"
    layout: dict[str, Any] = {"bytes": path.stat().st_size, "pyc_members": len(pyc), "py_members": len(py),
                              "compression": compression}
    if stock_modules is not None:
        missing = stock_modules - pyc
        layout["stock_modules_missing"] = len(missing)
        layout["full_compiled"] = not missing and not py
    return layout


def stock_modules() -> set[str]:
    with zipfile.ZipFile(PYODIDE_NPM / "python_stdlib.zip") as archive:
        return {n[:-3] for n in archive.namelist() if n.endswith(".py")}


def siblings(root: Path) -> list[str]:
    """Every precompressed sibling in a built site (paths relative to its root)."""
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*")
                  if p.suffix in SIBLING_SUFFIXES and p.with_suffix("").is_file())


def site_layout(site: Site) -> dict[str, Any]:
    """The runtime layout a site ships: its stdlib zip and its precompressed siblings."""
    served = url_path_to_file(site.root, site.stdlib_path)
    if served is None:
        raise BenchError(f"the widget's stdlib {site.stdlib_path} is not in {site.root}")
    found = siblings(site.root)
    runtime = site.runtime_path.strip("/")
    stdlib = zip_layout(served, stock_modules())
    kind = ("full compiled" if stdlib["full_compiled"] else
            f"trimmed or partial ({stdlib['pyc_members']} .pyc, {stdlib['stock_modules_missing']} stock modules left out)"
            if stdlib["pyc_members"] else "sources")
    runtime_siblings = sorted(name.rsplit("/", 1)[-1] for name in found if name.startswith(runtime + "/"))
    summary = (f"stdlib {kind}, {stdlib['compression']}, {stdlib['bytes']:,} bytes; "
               + (f"{len(found)} precompressed siblings ({len(runtime_siblings)} in the runtime folder: "
                  f"{', '.join(runtime_siblings) or 'none'})" if found else "no precompressed siblings"))
    return {"stdlib": stdlib, "stdlib_kind": kind, "siblings": len(found), "runtime_siblings": runtime_siblings,
            "summary": summary}


def _deflated(source: Path, target: Path) -> None:
    """``source`` with every file member deflated, as the previous layout shipped it."""
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w") as dst:
        for info in src.infolist():
            copy = zipfile.ZipInfo(info.filename, info.date_time)
            copy.external_attr = info.external_attr
            copy.compress_type = zipfile.ZIP_STORED if info.is_dir() else zipfile.ZIP_DEFLATED
            dst.writestr(copy, src.read(info))


REFERENCE_STDLIB_JOB = Path(__file__).resolve().parent / "reference_stdlib.py"
PYCOMPILE_RUNNER = REPO / "checker" / "sphinx" / "sphinx_access_checker" / "pycompile.mjs"


def full_compiled_stdlib(cache: Path, work: Path) -> tuple[Path, str]:
    """The whole standard library compiled as the build did before the bytes work (docstrings
    and column positions kept, deflated): (zip, where it came from).

    Compiled by Pyodide's interpreter under Node (``bench/reference_stdlib.py``), once per
    stock zip and job script: the result is kept in ``cache``.
    """
    stock = NODE_MODULES / "pyodide" / "python_stdlib.zip"
    if _sha256(stock) != json.loads(PINS.read_text())["files"]["python_stdlib.zip"]:
        raise BenchError(f"reference: {stock} does not match its pin: run `npm ci`")
    key = hashlib.sha256(stock.read_bytes() + REFERENCE_STDLIB_JOB.read_bytes()).hexdigest()[:16]
    kept = cache / "bench-reference" / f"stdlib-{key}.zip"
    if kept.is_file():
        return kept, f"the bench's cache ({kept.name}), compiled as the build did before"
    log("reference: compiling the whole stdlib as the build did before the bytes work")
    job = work / "reference-stdlib"
    shutil.rmtree(job, ignore_errors=True)
    job.mkdir(parents=True)
    shutil.copyfile(stock, job / "python_stdlib.zip")
    done = subprocess.run(["node", str(PYCOMPILE_RUNNER), str(NODE_MODULES / "pyodide"), str(REFERENCE_STDLIB_JOB), str(job)],
                          capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0:
        raise BenchError(f"reference: the stdlib could not be compiled: {done.stderr.strip()[-500:]}")
    compiled = job / "reference_stdlib.zip"
    if not zip_layout(compiled, stock_modules())["full_compiled"]:
        raise BenchError(f"reference: {compiled} is not the whole stdlib compiled")
    kept.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(compiled, kept.with_suffix(".tmp"))
    kept.with_suffix(".tmp").replace(kept)
    return kept, "compiled by the bench as the build did before (bench/reference_stdlib.py)"


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


@dataclass
class Reference:
    root: Path
    layout: dict[str, Any]
    """What the reference site ships, where its stdlib came from and what was changed."""


def prepare_reference(site: Site, cache: Path, work: Path) -> Reference:
    """A copy of the built site in the previous runtime layout: the full compiled, deflated
    stdlib in place of the one the widget boots, and no precompressed siblings.

    Works whatever the build ships today: when it already ships that layout, the copy is the
    same site, and the layout says so (``same_as_site``).
    """
    target = work / "reference"
    shutil.rmtree(target, ignore_errors=True)
    # Hard links: nothing in the copy is written in place (a changed file is unlinked first).
    shutil.copytree(site.root, target, copy_function=_link_or_copy)
    served = url_path_to_file(target, site.stdlib_path)
    if served is None:
        raise BenchError(f"reference: the widget's stdlib {site.stdlib_path} is not in the copy")
    source, origin = full_compiled_stdlib(cache, work)
    identical_stdlib = _sha256(source) == _sha256(served)
    served.unlink()
    if zip_layout(source)["compression"] == "deflated":
        shutil.copyfile(source, served)
        made = "as it is"
    else:
        _deflated(source, served)
        made = "re-deflated"
    # The wheel as it shipped then, too: its members deflated one by one (it is stored now, so
    # that the host's brotli works across its files).
    wheel = url_path_to_file(target, urljoin(site.access_path, site.attrs.get("data-wheel", "")))
    if wheel is not None and wheel.suffix == ".whl":
        stored = wheel.with_name(wheel.name + ".stored")
        wheel.replace(stored)
        _deflated(stored, wheel)
        stored.unlink()
    removed = siblings(target)
    for name in removed:
        (target / name).unlink()
    reference_site = Site(target, site.access_path, site.runtime_path, site.stdlib_path, site.stdlib, site.attrs)
    layout = site_layout(reference_site)
    layout.update({
        "stdlib_source": f"{origin}, {made}",
        "siblings_removed": len(removed),
        "same_as_site": identical_stdlib and not removed and made == "as it is",
    })
    layout["summary"] = (f"{layout['summary']} (the stdlib from {layout['stdlib_source']}; "
                         f"{len(removed)} siblings removed from the copy)")
    log(f"reference site: {layout['summary']}")
    return Reference(target, layout)


def prime_server(base_url: str, site: Site) -> float:
    """Ask the server once for every runtime file and the wheel, as a browser would (br, gzip):
    the local server gzips a file without a sibling on its first request and keeps the result,
    so that no measured run pays for that. Returns the seconds it took."""
    import urllib.request

    start = time.perf_counter()
    runtime = url_path_to_file(site.root, site.runtime_path + "pyodide.mjs")
    paths = [site.runtime_path + p.name for p in sorted(runtime.parent.iterdir())
             if p.is_file() and p.suffix not in SIBLING_SUFFIXES and not p.name.startswith(".")] if runtime else []
    if site.attrs.get("data-wheel"):
        paths.append(urljoin(site.access_path, site.attrs["data-wheel"]))
    for path in paths:
        request = urllib.request.Request(base_url + path, headers={"Accept-Encoding": "br, gzip"})
        with urllib.request.urlopen(request, timeout=120) as response:
            response.read()
    return time.perf_counter() - start
