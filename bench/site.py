"""The site the browser benchmarks run against: built like the e2e tests build it, plus the
baseline pages under ``_bench/``, served by the local stack (``dev/stack.py``).

- ``_bench/bare.html``: boots the site's own Pyodide files (the runtime folder the widget names
  in ``data-runtime``, and its ``data-stdlib`` when it has one) and runs ``1+1``;
- ``_bench/stock.html``: the same page on ``_bench/stock/``, a copy of the npm package's boot
  files as shipped (the stock ``python_stdlib.zip``, sources only).

The stock copy gets the runtime's caching headers (``immutable``), so that both are cached alike.
"""

from __future__ import annotations

import hashlib
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
    start = time.perf_counter()
    try:
        done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, **env},
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


def install_bench_pages(root: Path, runtime_path: str, stdlib_path: str) -> None:
    """Copy the bare pages and the stock npm files into the built site (its ``_bench/``)."""
    bench = root / BENCH_DIR
    stock = bench / "stock"
    stock.mkdir(parents=True, exist_ok=True)
    for name in json.loads(PINS.read_text())["files"]:
        shutil.copyfile(PYODIDE_NPM / name, stock / name)
    shutil.copyfile(BARE_SOURCES / "bare.mjs", bench / "bare.mjs")
    template = (BARE_SOURCES / "bare.html").read_text(encoding="utf-8")
    default_stdlib = runtime_path + "python_stdlib.zip"
    pages = {
        "bare.html": (runtime_path, "" if stdlib_path == default_stdlib else stdlib_path),
        "stock.html": (f"/{BENCH_DIR}/stock/", ""),
    }
    for name, (runtime, stdlib) in pages.items():
        (bench / name).write_text(template.replace("@RUNTIME@", runtime).replace("@STDLIB@", stdlib), encoding="utf-8")
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
    install_bench_pages(out, runtime_path, stdlib_path)
    log(f"runtime {runtime_path}; stdlib: {stdlib['evidence']}")
    return Site(out, access_path, runtime_path, stdlib_path, stdlib, attrs), seconds
