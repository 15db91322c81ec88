"""``make bench``: the site's benchmarks, a table of figures and targets, and a JSON file.

    python bench/run.py [--only ready,longtasks,keys,network,bytes,build,core] [--runs 9]
                        [--cold-build-runs 3] [--login ai4eosc-member] [--before FILE]
                        [--out bench/results/latest.json] [--keep]

- ready: click → ``data-state="ready"`` on the access-levels page, cold and warm (same-tab
  reload, new tab), against bare pages that boot the same Pyodide files in a module worker (the
  rule's baseline) and on the main thread, and against the stock npm files; the return from
  the provider, signed in; the main thread's long tasks in every run (``bench/ready.py``);
- longtasks: only the cold runs of the widget, for its long tasks and total blocking time
  between the click and ready (``ready`` measures them too);
- keys: keystroke to message on the form (``bench/keys.py``);
- network: the network's share of the wait, cold click → ready on an emulated 40 Mbit/s link
  minus loopback, for the site and for the reference site (the previous runtime layout:
  ``bench/site.py``), in one rotation;
- bytes: what a normal page, the access page before the click and once ready (also on the
  reference site) download, read from Resource Timing (page and worker), and that no other
  page loads Pyodide (``bench/transfer.py``);
- build: clean and incremental builds with the extension versus without (``bench/buildtime.py``);
- core: ``evaluate()`` and ``validate_form()`` calls per second on CPython and in Pyodide.

Comparisons are measured in one run, arms alternating. The cold arms of ready, longtasks and
network share one rotation. The JSON is written even when a target is missed or a benchmark
fails; the exit status is 1 then. Not part of ``make test`` or CI.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a script: make the repository's packages importable
    sys.path.insert(0, str(REPO))

from bench import buildtime, core, keys, ready, transfer  # noqa: E402
from bench.common import (  # noqa: E402
    CHROMIUM_FLAGS,
    NORMAL_DOC,
    PYODIDE_NPM,
    Deadline,
    Target,
    chromium_path,
    fmt_bytes,
    fmt_ms,
    fmt_rate,
    fmt_s,
    log,
    median_of,
    time_limit,
)
from bench.site import Reference, Site, prepare_reference, prepare_site, prime_server, site_layout  # noqa: E402

STAGES = ("ready", "longtasks", "keys", "network", "bytes", "build", "core")
BROWSER_STAGES = ("ready", "longtasks", "keys", "network", "bytes")
TIMING_STAGES = ("ready", "longtasks", "network")  # the stages whose cold arms share a rotation
COLD_ARMS_OF = {
    "ready": ("bare", "bare_worker", "widget", "stock", "link", "link_intent", "signed_in"),
    "longtasks": ("widget",),
    "network": ("widget", "link", "reference", "reference_link"),
}
LONG_TASK_FLOOR = 50.0  # ms: "≤ max(50 ms, 5 % of the time to ready)"
LONG_TASK_SHARE = 0.05
KEYSTROKE_LIMIT = 50.0  # ms, at the median
READY_BYTES_LIMIT = 4.0e6  # the access page once ready
NORMAL_PAGE_LIMIT = 200e3  # an ordinary page, cold, web fonts included
NETWORK_SHARE_FACTOR = 0.5  # the site's network share ≤ 0.5 × the reference layout's
SIGNED_IN_FACTOR = 1.10  # the signed-in return ≤ 1.10 × the previous run's
DEFAULT_OUT = REPO / "bench" / "results" / "latest.json"
MIN_RUNS = 9
GZIP_ALLOWANCE = 30_000  # bytes: "access page before the click ≤ normal page + 30 KB gzip"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--only", default=",".join(STAGES), help=f"comma-separated subset of {','.join(STAGES)}")
    parser.add_argument("--runs", type=int, default=MIN_RUNS, help="runs per arm (default and minimum for a valid comparison: 9)")
    parser.add_argument("--cold-build-runs", type=int, default=3, help="cold-cache builds (reported, no target)")
    parser.add_argument("--login", default="ai4eosc-member", help="demo account for the signed-in return")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON results file")
    parser.add_argument("--before", type=Path, default=None,
                        help="JSON of an earlier run to compare the signed-in return with (default: the --out file "
                             "as it is before this run, if there is one)")
    parser.add_argument("--budget", type=float, default=1500.0, help="time budget in seconds for the whole run")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (built site, logs)")
    args = parser.parse_args(argv)
    stages = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = sorted(set(stages) - set(STAGES))
    if unknown or not stages:
        parser.error(f"--only: unknown stage(s) {', '.join(unknown) or '(none given)'}; choose from {', '.join(STAGES)}")
    if args.runs < 1 or args.cold_build_runs < 0:
        parser.error("--runs must be ≥ 1 and --cold-build-runs ≥ 0")
    args.stages = [s for s in STAGES if s in stages]
    return args


def _command_output(command: list[str]) -> str:
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=30, check=False, cwd=REPO).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def meta(args: argparse.Namespace) -> dict[str, Any]:
    try:
        pyodide_version = json.loads((PYODIDE_NPM / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        pyodide_version = None
    return {
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "commit": _command_output(["git", "rev-parse", "HEAD"]),  # read-only, like the next one
        "uncommitted_changes": bool(_command_output(["git", "--no-optional-locks", "status", "--porcelain"])),
        "stages": args.stages,
        "runs": args.runs,
        "valid_comparison": args.runs >= MIN_RUNS,
        "python": sys.version.split()[0],
        "node": _command_output(["node", "--version"]),
        "pyodide": pyodide_version,
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "loadavg_start": list(os.getloadavg()),
        "chromium_flags": CHROMIUM_FLAGS,
    }


def guarded(results: dict[str, Any], stage: str, action: Callable[[], Any], key: str | None = None) -> None:
    """Run one benchmark; a failure is recorded (and fails the run), the others still run.
    Its figures go under ``key`` (default: the stage's name)."""
    started = time.monotonic()
    log(f"== {stage}")
    try:
        results[key or stage] = action()
    except Exception as exc:
        log(f"{stage}: ERROR: {exc}")
        results.setdefault("errors", {})[stage] = f"{exc}\n{traceback.format_exc(limit=5)}"
    results.setdefault("seconds", {})[stage] = round(time.monotonic() - started, 1)


@dataclass
class Browser:
    """The browser stages' world: the site and its stack, the reference site's URL, Playwright."""

    site: Site
    stack: Any
    pw: Any
    reference: Reference | None
    reference_url: str | None


@contextlib.contextmanager
def browser_site(work: Path, cache: Path, results: dict[str, Any], *, reference: bool) -> Iterator[Browser]:
    """The built site on the local stack, the reference site on a second server (when asked
    for and it can be made), and Playwright."""
    from playwright.sync_api import sync_playwright

    from dev.processes import serving
    from dev.stack import SERVER_SCRIPT, free_port, running_stack

    port, idp_port = free_port(), free_port()
    site, seconds = prepare_site(work, cache, idp_port)
    results["site"] = {"build_seconds": seconds, "runtime": site.runtime_path, "stdlib": site.stdlib,
                       "compiled_stdlib": site.compiled, "layout": site_layout(site)}
    log(f"site layout: {results['site']['layout']['summary']}")
    ref: Reference | None = None
    if reference:
        try:
            ref = prepare_reference(site, cache, work)
            results["reference"] = {"layout": ref.layout}
        except Exception as exc:
            log(f"reference site: ERROR: {exc}")
            results["reference"] = {"error": str(exc)}
    logs = work / "logs"
    with contextlib.ExitStack() as servers:
        stack = servers.enter_context(running_stack(site.root, port=port, idp_port=idp_port, log_dir=logs))
        log(f"stack: site {stack.site_url}, provider {stack.idp_url}")
        results["site"]["prime_seconds"] = round(prime_server(stack.site_url, site), 2)
        reference_url = None
        if ref is not None:
            ref_port = free_port()
            env = {k: v for k, v in os.environ.items() if k not in ("ACCESS_CHECKER_CSP_OVERRIDE", "PORT")}
            env["ISSUER_ORIGIN"] = stack.idp_url
            try:
                url = f"http://127.0.0.1:{ref_port}"
                servers.enter_context(serving([sys.executable, str(SERVER_SCRIPT), "--root", str(ref.root), "--port",
                                               str(ref_port)], f"{url}/", log=logs / "reference.log", env=env,
                                              name="reference site server", ready_line="serving "))
                reference_site = Site(ref.root, site.access_path, site.runtime_path, site.stdlib_path, site.stdlib, site.attrs)
                results["reference"]["prime_seconds"] = round(prime_server(url, reference_site), 2)
                reference_url = url
                log(f"reference site {reference_url}")
            except Exception as exc:  # the other stages still run; network says why it could not
                log(f"reference site: ERROR: {exc}")
                results["reference"]["error"] = str(exc)
        pw = servers.enter_context(sync_playwright())
        yield Browser(site, stack, pw, ref, reference_url)


def read_before(path: Path | None) -> dict[str, Any] | None:
    """The signed-in return of an earlier run's JSON: its median and where it was measured."""
    if path is None or not path.is_file():
        return None
    try:
        earlier = json.loads(path.read_text())
        median = earlier["ready"]["signed_in"]["back_to_ready"]["median"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if median is None:
        return None
    meta = earlier.get("meta", {})
    return {"median": float(median), "file": str(path), "commit": meta.get("commit"), "started": meta.get("started"),
            "runs": meta.get("runs"), "loadavg_start": meta.get("loadavg_start")}


# ---- targets -------------------------------------------------------------------------------


def ready_targets(data: dict[str, Any], compiled: bool) -> list[Target]:
    targets = []
    cold = data.get("cold", {})
    worker_bare = median_of(cold.get("bare_worker"))
    targets.append(Target("time to ready, cold", median_of(cold.get("widget")), time_limit(worker_bare), "ms",
                          "≤ max(worker bare × 1.15, worker bare + 250 ms)"))
    main_bare = median_of(cold.get("bare"))
    targets.append(Target("time to ready, cold, vs the main-thread bare boot", median_of(cold.get("widget")),
                          time_limit(main_bare), "ms", "≤ max(bare × 1.15, bare + 250 ms)", hard=False,
                          note="reported beside the rule: a worker boots somewhat slower"))
    names = {"cold": "cold", "reload": "warm, same-tab reload", "newtab": "warm, new tab"}
    for mode in ("reload", "newtab"):
        arms = data.get(mode, {})
        # The same baseline as the cold rule: the same files booted in a module worker.
        targets.append(Target(f"time to ready, {names[mode]}", median_of(arms.get("widget")),
                              time_limit(median_of(arms.get("bare_worker"))), "ms",
                              "≤ max(worker bare × 1.15, worker bare + 250 ms)"))
        targets.append(Target(f"time to ready, {names[mode]}, vs the main-thread bare boot", median_of(arms.get("widget")),
                              time_limit(median_of(arms.get("bare"))), "ms", "≤ max(bare × 1.15, bare + 250 ms)",
                              hard=False, note="reported beside the rule"))
    signed = data.get("signed_in", {})
    back = median_of(signed.get("back_to_ready"))
    round_trip = median_of(signed.get("round_trip"))
    targets.append(Target(f"returning signed in ({signed.get('login', '?')}) → ready", back,
                          None if round_trip is None else time_limit(worker_bare, round_trip),
                          "ms", "≤ max(worker bare cold × 1.15, + 250 ms) + provider round trip"))
    before = data.get("signed_in_before")
    target = Target("returning signed in, against an earlier run", back,
                    None if before is None else before["median"] * SIGNED_IN_FACTOR, "ms",
                    f"≤ {SIGNED_IN_FACTOR:.2f} × earlier run")
    if before is None:
        target.note = "n/a: no earlier run's JSON (--before FILE)"
    else:
        target.note = (f"earlier: {before['median']:,.0f} ms, {(before.get('started') or '?')[:10]}, "
                       f"commit {(before.get('commit') or '?')[:10]}")
    targets.append(target)
    for mode, factor in (("cold", 0.6), ("reload", 0.5), ("newtab", 0.5)):
        arms = data.get(mode, {})
        stock = median_of(arms.get("stock"))
        target = Target(f"compiled stdlib: {names[mode]} vs stock", median_of(arms.get("widget")),
                        None if stock is None else stock * factor, "ms", f"≤ {factor} × stock bare", hard=compiled)
        if not compiled:
            would = target.verdict
            target.note = f"n/a: no compiled stdlib (would {would})"
        targets.append(target)
    return targets


def longtask_targets(data: dict[str, Any]) -> list[Target]:
    """Between the click and ready (cold): the longest main-thread task and the total blocking
    time, each at most max(50 ms, 5 % of the time to ready); medians over the cold runs."""
    widget = data.get("cold", {}).get("widget") or {}
    ready_ms = median_of(widget)
    limit = None if ready_ms is None else max(LONG_TASK_FLOOR, LONG_TASK_SHARE * ready_ms)
    metrics = widget.get("metrics") or {}
    rule = f"≤ max(50 ms, 5 % of time to ready {fmt_ms(ready_ms)})"
    worst = metrics.get("longest_task", {}).get("max")
    return [
        Target("cold click → ready: longest main-thread task", median_of(metrics.get("longest_task")), limit, "ms", rule,
               note="" if worst is None else f"worst run {fmt_ms(worst)}"),
        Target("cold click → ready: total blocking time", median_of(metrics.get("blocking_time")), limit, "ms", rule),
    ]


def keys_targets(data: dict[str, Any]) -> list[Target]:
    note = "" if not data else (f"{data['keystrokes']} keys on {data['field']}; p75 {fmt_ms(data['to_frame']['q3'])}, "
                                f"max {fmt_ms(data['to_frame']['max'])}")
    if data and not data.get("focus_kept"):
        note += "; focus was lost"
    return [Target("keystroke → message (first frame after)", median_of((data or {}).get("to_frame")), KEYSTROKE_LIMIT,
                   "ms", "≤ 50 ms at the median", note=note)]


def network_summary(results: dict[str, Any]) -> dict[str, Any]:
    """The network's share of the wait: cold click → ready on the link minus on loopback,
    medians, for the site and for the reference layout. Beside it, the same difference for the
    widget's ``downloaded`` mark (all files in), which the CPU's load sways less."""
    cold = results.get("ready", {}).get("cold", {})
    out: dict[str, Any] = {}
    for name, loopback, link in (("site", "widget", "link"), ("reference", "reference", "reference_link")):
        a, b = median_of(cold.get(loopback)), median_of(cold.get(link))
        da, db = (median_of(((cold.get(arm) or {}).get("phases") or {}).get("downloaded")) for arm in (loopback, link))
        out[name] = {"loopback": a, "link": b, "share": None if a is None or b is None else b - a,
                     "downloads_share": None if da is None or db is None else db - da}
    out["layouts"] = {"site": results.get("site", {}).get("layout", {}).get("summary"),
                      "reference": (results.get("reference", {}).get("layout") or {}).get("summary")}
    return out


def network_targets(results: dict[str, Any]) -> list[Target]:
    data = results.get("network") or {}
    site, reference = data.get("site", {}), data.get("reference", {})
    ref_share = reference.get("share")
    target = Target("network's share of cold click → ready (40 Mbit/s, 20 ms, minus loopback)", site.get("share"),
                    None if ref_share is None else ref_share * NETWORK_SHARE_FACTOR, "ms",
                    f"≤ {NETWORK_SHARE_FACTOR} × the reference layout's {fmt_ms(ref_share)}")
    downloads = site.get("downloads_share"), reference.get("downloads_share")
    if None not in downloads:
        target.note = f"downloads alone: {fmt_ms(downloads[0])} against {fmt_ms(downloads[1])}"
    layout = (results.get("reference") or {}).get("layout") or {}
    if (results.get("reference") or {}).get("error"):
        target.note = f"no reference site: {results['reference']['error'].splitlines()[0][:120]}"
    elif layout.get("same_as_site"):
        target.note = "the site ships the reference layout itself (no siblings, the full compiled stdlib)"
    return [target]


def bytes_targets(data: dict[str, Any]) -> list[Target]:
    others = data.get("other_pages", {})
    pyodide_pages = {page: o["pyodide_urls"] for page, o in others.items() if o["pyodide_requests"]}
    worker_pages = sorted(page for page, o in others.items() if o.get("workers"))
    loaded = sum(o["pyodide_transferred"] for o in others.values())
    for key in ("normal", "landing"):
        if key in data:
            loaded += data[key]["pyodide_transferred"]
    requests = sum(o["pyodide_requests"] for o in others.values()) + len(worker_pages)
    value = float(max(loaded, requests)) if others else None
    before = data.get("access_before_click", {})
    normal = data.get("normal", {})
    ready_page = data.get("access_ready", {})
    encodings = ready_page.get("encodings", {})
    served = ", ".join(f"{name} {coding}" for name, coding in sorted(encodings.items()))
    uses_br = any(coding == "br" for coding in encodings.values())
    notes = [f"Pyodide requested by {sorted(pyodide_pages)}" if pyodide_pages else "",
             f"a worker started on {worker_pages}" if worker_pages else ""]
    return [
        Target(f"other pages ({len(others)}) load zero Pyodide bytes", value, 0.0, "B", "= 0",
               note="; ".join(n for n in notes if n)),
        Target("access page once ready, transferred", ready_page.get("transferred"), READY_BYTES_LIMIT, "B",
               "≤ 4.0 MB, with br", note=(f"br {'served' if uses_br else 'NOT served'}: {served}" if encodings else "")),
        Target(f"ordinary page ({NORMAL_DOC}) cold, web fonts included", normal.get("transferred"), NORMAL_PAGE_LIMIT, "B",
               "≤ 200 KB", note="" if not normal else f"web fonts {fmt_bytes(normal.get('fonts_transferred'))}"),
        # Which web fonts a page loads depends on its own text (one italic phrase pulls in the
        # theme's Lato italic), not on the checker: the hard target compares without fonts, and
        # the raw comparison is reported beside it.
        Target("access page before the click, gzip", before.get("gzip"),
               None if normal.get("gzip") is None else normal["gzip"] + GZIP_ALLOWANCE, "B",
               f"≤ normal page ({NORMAL_DOC}) + 30 KB gzip", hard=False, note=_font_note(before, normal)),
        Target("access page before the click, Pyodide bytes", before.get("pyodide_transferred"), 0.0, "B", "= 0",
               hard=False),
        Target("access page before the click, gzip without web fonts",
               None if before.get("gzip") is None else before["gzip"] - before["fonts_gzip"],
               None if normal.get("gzip") is None else normal["gzip"] - normal["fonts_gzip"] + GZIP_ALLOWANCE, "B",
               "≤ normal page without web fonts + 30 KB gzip"),
    ]


def _font_note(page: dict[str, Any], normal: dict[str, Any]) -> str:
    extra = sorted(set(page.get("fonts", [])) - set(normal.get("fonts", [])))
    return f"web fonts only the access page loads: {', '.join(extra)}" if extra else ""


def build_targets(data: dict[str, Any]) -> list[Target]:
    targets = []
    for kind, factor in (("clean", 1.3), ("incremental", 1.2)):
        arms = data.get(kind, {})
        without = median_of(arms.get("without"))
        targets.append(Target(f"{kind} build with the extension", median_of(arms.get("with")),
                              None if without is None else without * factor, "s", f"≤ {factor} × without"))
    return targets


# ---- the table -----------------------------------------------------------------------------


def _spread(arm: dict[str, Any] | None, fmt: Callable[[float | None], str]) -> tuple[str, str, str, str]:
    if not arm or not arm.get("n"):
        failures = len((arm or {}).get("failures", []))
        return "—", "—", "—", f"0{f' ({failures} failed)' if failures else ''}"
    failures = len(arm.get("failures", []))
    return (fmt(arm["median"]), f"{fmt(arm['q1'])} – {fmt(arm['q3'])}", f"{fmt(arm['min'])} – {fmt(arm['max'])}",
            f"{arm['n']}{f' ({failures} failed)' if failures else ''}")


ARM_LABELS = {"bare": "bare, main thread", "bare_worker": "bare, worker", "widget": "widget", "stock": "stock, main thread",
              "link": "widget, 40 Mbit/s", "link_intent": "widget, 40 Mbit/s, intent", "reference": "reference layout",
              "reference_link": "reference, 40 Mbit/s"}
MODES = (("cold", "cold"), ("reload", "warm reload"), ("newtab", "warm new tab"))


def figure_rows(results: dict[str, Any]) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    data = results.get("ready")
    if data:
        for mode, label in MODES:
            for arm, arm_label in ARM_LABELS.items():
                if arm in data.get(mode, {}):
                    rows.append((f"click → ready, {label}", arm_label, *_spread(data[mode].get(arm), fmt_ms)))
        for mode, label in MODES:
            for arm in ("widget", "bare", "bare_worker"):
                metrics = (data.get(mode, {}).get(arm) or {}).get("metrics") or {}
                for key, what in (("longest_task", "longest task"), ("blocking_time", "total blocking time")):
                    if key in metrics:
                        rows.append((f"main thread, click → ready, {label}: {what}", ARM_LABELS[arm],
                                     *_spread(metrics[key], fmt_ms)))
        signed = data.get("signed_in")
        if signed:
            rows.append(("signed in: redirect back → ready", signed["login"], *_spread(signed["back_to_ready"], fmt_ms)))
            rows.append(("signed in: provider round trip", "token+userinfo", *_spread(signed["round_trip"], fmt_ms)))
            rows.append(("signed in: submit → redirect back", "provider", *_spread(signed["submit_to_back"], fmt_ms)))
            metrics = signed["back_to_ready"].get("metrics") or {}
            if "longest_task" in metrics:
                rows.append(("main thread, redirect back → ready: longest task", signed["login"],
                             *_spread(metrics["longest_task"], fmt_ms)))
    data = results.get("keys")
    if data:
        rows.append(("keystroke → message, first frame after", f"field {data['field']}", *_spread(data["to_frame"], fmt_ms)))
        rows.append(("keystroke → message text changed", f"field {data['field']}", *_spread(data["to_change"], fmt_ms)))
    data = results.get("network")
    if data:
        for name, label in (("site", "site"), ("reference", "reference layout")):
            rows.append(("network's share: link − loopback (medians)", label, fmt_ms(data[name]["share"]), "", "", ""))
            rows.append(("the same, for the downloads (mark downloaded)", label, fmt_ms(data[name]["downloads_share"]),
                         "", "", ""))
    data = results.get("build")
    if data:
        for kind in ("clean", "incremental"):
            for arm in ("with", "without"):
                rows.append((f"build: {kind}", f"{arm} extension", *_spread(data[kind].get(arm), fmt_s)))
        rows.append(("build: cold cache (no target)", "with extension", *_spread(data["cold_cache"].get("with"), fmt_s)))
    data = results.get("core")
    if data:
        for runtime in ("cpython", "pyodide"):
            for call in ("evaluate", "validate_form"):
                rows.append((f"core: {call}() calls/s", f"{runtime} {data[runtime]['python']}",
                             *_spread(data[runtime][call], fmt_rate)))
    return rows


BYTES_PAGES = (("normal", NORMAL_DOC), ("landing", "index"), ("access_before_click", "access page, before the click"),
               ("access_ready", "access page, checker ready"), ("reference_access_ready", "reference layout, checker ready"))


def bytes_rows(results: dict[str, Any]) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    data = results.get("bytes") or {}
    for key, label in BYTES_PAGES:
        if key in data:
            d = data[key]
            rows.append((label, str(d["requests"]), fmt_bytes(d["transferred"]), fmt_bytes(d["gzip"]), fmt_bytes(d["raw"]),
                         fmt_bytes(d["pyodide_transferred"]), fmt_bytes(d["fonts_transferred"]),
                         fmt_bytes(d["checker_assets_gzip"])))
    return rows


def file_rows(results: dict[str, Any]) -> list[tuple[str, ...]]:
    """Every file the ready access page downloaded: transferred and encoding, site and reference."""
    data = results.get("bytes") or {}
    if "access_ready" not in data:
        return []

    def by_file(page: dict[str, Any]) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for row in page.get("resources", []):
            if row["transferred"] > 0:
                name = row["url"].rsplit("/", 1)[-1] or row["url"]
                seen = out.setdefault(name, {"transferred": 0, "encoding": row["encoding"], "worker": row["worker"]})
                seen["transferred"] += row["transferred"]
        return out

    site = by_file(data["access_ready"])
    reference = by_file(data.get("reference_access_ready", {}))
    rows: list[tuple[str, ...]] = []
    for name in sorted(set(site) | set(reference), key=lambda n: -max(site.get(n, {}).get("transferred", 0),
                                                                      reference.get(n, {}).get("transferred", 0))):
        a, b = site.get(name), reference.get(name)
        rows.append((name, "worker" if (a or b or {}).get("worker") else "page",
                     fmt_bytes(a["transferred"]) if a else "—", a["encoding"] if a else "",
                     fmt_bytes(b["transferred"]) if b else "—", b["encoding"] if b else ""))
    return rows


def phase_rows(results: dict[str, Any]) -> list[tuple[str, ...]]:
    """When each of the widget's phases began, after the click (signed in: after the redirect back)."""
    rows: list[tuple[str, ...]] = []
    data = results.get("ready")
    if not data:
        return rows
    arms = [(label, data[mode].get("widget") or {}) for mode, label in MODES if mode in data]
    if "signed_in" in data:
        arms.append(("signed in", data["signed_in"]["back_to_ready"]))
    for label, arm in arms:
        for phase, figures in (arm.get("phases") or {}).items():
            if phase != "ready":  # the mark; the row below is the measured data-state change
                rows.append((label, phase, *_spread(figures, fmt_ms)))
        rows.append((label, "ready (data-state)", *_spread(arm, fmt_ms)))
    return rows


def target_rows(targets: list[Target]) -> list[tuple[str, ...]]:
    fmt = {"ms": fmt_ms, "s": fmt_s, "B": fmt_bytes}
    rows: list[tuple[str, ...]] = []
    for t in targets:
        f = fmt.get(t.unit, str)
        verdict = t.verdict if t.hard or t.verdict == "n/a" else f"{t.verdict} (info)"
        limit = f"= {f(t.limit)}" if t.rule.startswith("=") else f"{t.rule} = {f(t.limit)}"
        rows.append((t.name, f(t.value), limit, verdict, t.note))
    return rows


def render(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(str(row[i])) if i < len(row) else 0 for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(cell).ljust(widths[i]) for i, cell in enumerate(header)).rstrip(),
             "  ".join("-" * w for w in widths)]
    for row in rows:
        lines.append("  ".join(str(cell).ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
    return "\n".join(lines)


# ---- main ----------------------------------------------------------------------------------


def run_browser_stages(args: argparse.Namespace, work: Path, cache: Path, results: dict[str, Any],
                       deadline: Deadline, before: dict[str, Any] | None) -> None:
    timing = [s for s in TIMING_STAGES if s in args.stages]
    cold_arms = tuple(dict.fromkeys(arm for stage in timing for arm in COLD_ARMS_OF[stage]))
    need_reference = "network" in args.stages or "bytes" in args.stages
    try:
        results["meta"]["chromium"] = _command_output([chromium_path(), "--version"])
        with browser_site(work, cache, results, reference=need_reference) as browser:
            urls = ready.Urls(browser.stack.site_url, browser.site.access_path, browser.stack.idp_url, browser.reference_url)
            if timing:
                arms = cold_arms if browser.reference_url else tuple(a for a in cold_arms if not a.startswith("reference"))

                def timing_run() -> dict[str, Any]:
                    data = ready.run(browser.pw, urls, args.runs, args.login, deadline, cold_arms=arms,
                                     warm="ready" in args.stages)
                    if "signed_in" in data:
                        data["signed_in_before"] = before
                    return data

                guarded(results, "+".join(timing), timing_run, key="ready")
                if "network" in args.stages:
                    results["network"] = network_summary(results)
                    if not browser.reference_url:
                        results.setdefault("errors", {})["network"] = (
                            f"no reference site: {(results.get('reference') or {}).get('error', 'not served')}")
            if "keys" in args.stages:
                guarded(results, "keys", lambda: keys.run(browser.pw, urls.of("widget"), deadline))
            if "bytes" in args.stages:
                reference = (browser.reference_url, browser.reference.root) if browser.reference and browser.reference_url else None
                guarded(results, "bytes", lambda: transfer.run(browser.pw, browser.stack.site_url, browser.site.root, deadline,
                                                               reference))
    except Exception as exc:
        log(f"site: ERROR: {exc}")
        for stage in BROWSER_STAGES:
            if stage in args.stages and stage not in results and stage not in results.get("errors", {}):
                results.setdefault("errors", {})[stage] = f"the site or the stack could not start: {exc}"


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    deadline = Deadline(args.budget)
    results: dict[str, Any] = {"meta": meta(args)}
    # The earlier run, read before this one overwrites it.
    before = read_before(args.before if args.before is not None else args.out)
    if args.runs < MIN_RUNS:
        log(f"--runs {args.runs}: fewer than {MIN_RUNS} runs per arm, figures are indicative only")
    work = Path(tempfile.mkdtemp(prefix="ai4os-bench-"))
    cache = work / "cache"  # the extension's cache: shared by the site build and the build benchmark
    log(f"stages {', '.join(args.stages)}; {args.runs} runs per arm; work folder {work}")
    try:
        if any(stage in args.stages for stage in BROWSER_STAGES):
            run_browser_stages(args, work, cache, results, deadline, before)
        if "build" in args.stages:
            guarded(results, "build", lambda: buildtime.run(work / "build", cache, args.runs, args.cold_build_runs, deadline))
        if "core" in args.stages:
            guarded(results, "core", lambda: core.run(args.runs))
    finally:
        if args.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    compiled = bool(results.get("site", {}).get("compiled_stdlib"))
    timing = results.get("ready", {})
    targets: list[Target] = []
    if "ready" in args.stages:
        targets += ready_targets(timing, compiled)
    if "ready" in args.stages or "longtasks" in args.stages:
        targets += longtask_targets(timing)
    if "keys" in args.stages:
        targets += keys_targets(results.get("keys", {}))
    if "network" in args.stages:
        targets += network_targets(results)
    if "bytes" in args.stages:
        targets += bytes_targets(results.get("bytes", {}))
    if "build" in args.stages:
        targets += build_targets(results.get("build", {}))
    results["targets"] = [t.as_json() for t in targets]
    results["meta"]["loadavg_end"] = list(os.getloadavg())
    results["meta"]["seconds"] = round(time.monotonic() - deadline.start, 1)
    failed = [t.name for t in targets if t.fails_run]
    errors = sorted(results.get("errors", {}))
    results["passed"] = not failed and not errors

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, default=str) + "\n")

    print()
    if "site" in results:
        print(f"stdlib: {results['site']['stdlib']['evidence']}")
        print(f"site layout: {results['site']['layout']['summary']}")
    if "reference" in results:
        reference = results["reference"]
        print(f"reference layout: {reference['layout']['summary'] if 'layout' in reference else 'ERROR ' + reference['error']}")
    print(f"load average {results['meta']['loadavg_start'][0]:.2f} at start, {results['meta']['loadavg_end'][0]:.2f} at end; "
          f"{results['meta']['cpus']} CPUs; {results['meta']['seconds']:.0f} s")
    print()
    print(render(("figure", "arm", "median", "IQR", "min – max", "n"), figure_rows(results)))
    print()
    if bytes_rows(results):
        print(render(("bytes (cold cache, Resource Timing)", "requests", "transferred", "gzip -6", "raw",
                      "Pyodide (transferred)", "web fonts (transferred)", "checker UI (gzip)"), bytes_rows(results)))
        print()
    if file_rows(results):
        print(render(("file (access page, ready)", "fetched by", "site: transferred", "encoding",
                      "reference: transferred", "encoding"), file_rows(results)))
        print()
    if phase_rows(results):
        print(render(("widget phases", "mark (access-checker:*)", "median", "IQR", "min – max", "n"), phase_rows(results)))
        print()
    if targets:
        print(render(("target", "measured (median)", "limit", "result", "note"), target_rows(targets)))
        print()
    for stage in errors:
        print(f"ERROR in {stage}: {results['errors'][stage].splitlines()[0]}")
    print(f"results: {args.out}")
    if failed or errors:
        print(f"FAILED: {', '.join(failed + [f'{e} (error)' for e in errors])}")
        return 1
    print("all targets met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
