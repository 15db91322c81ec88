"""The results of ``make bench`` as reStructuredText tables, for the maintainers' page.

    .venv/bin/python bench/report.py [bench/results/latest.json]

Prints list-tables (time to ready, bytes, build, core, targets) and a line saying where and
when the figures were measured; paste what you need into the maintainers' page
``help/maintainers/performance.rst``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.common import NORMAL_DOC, fmt_bytes, fmt_ms, fmt_rate, fmt_s, median_of  # noqa: E402

DEFAULT = REPO / "bench" / "results" / "latest.json"


def _cell(arm: dict[str, Any] | None, fmt: Callable[[float | None], str]) -> str:
    if not arm or not arm.get("n"):
        return "—"
    return f"{fmt(arm['median'])} ({fmt(arm['q1'])} – {fmt(arm['q3'])})"


def table(title: str, header: Sequence[str], rows: Sequence[Sequence[str]], widths: str = "") -> str:
    lines = [f".. list-table:: {title}", "   :header-rows: 1"]
    if widths:
        lines.append(f"   :widths: {widths}")
    lines.append("")
    for row in [header, *rows]:
        for index, cell in enumerate(row):
            lines.append(f"   {'* -' if index == 0 else '  -'} {cell}".rstrip())
    return "\n".join(lines) + "\n"


def render(results: dict[str, Any]) -> str:
    meta = results["meta"]
    dirty = " plus uncommitted changes" if meta.get("uncommitted_changes") else ""
    parts = [
        f"Measured {meta['started'][:10]} at commit ``{(meta.get('commit') or '?')[:10]}``"
        f"{dirty}, {meta['runs']} runs per arm, on {meta['cpus']} CPUs "
        f"(load average {meta['loadavg_start'][0]:.1f} at the start, {meta['loadavg_end'][0]:.1f} at the end), "
        f"{meta.get('chromium', 'Chromium').split(' built')[0]}, Pyodide {meta.get('pyodide')}, "
        f"Node {meta.get('node')}, CPython {meta.get('python')}; "
        f"the whole run took {meta.get('seconds', 0) / 60:.1f} minutes. Median (IQR).\n",
    ]
    site = results.get("site")
    if site:
        parts.append(f"Standard library shipped: {site['stdlib']['evidence']}.\n")
        if site.get("layout"):
            parts.append(f"Runtime layout of the site: {site['layout']['summary']}.\n")
    reference = (results.get("reference") or {}).get("layout")
    if reference:
        parts.append(f"Reference layout (the previous one, a copy of the site served beside it): {reference['summary']}.\n")
    ready = results.get("ready")
    if ready and "reload" in ready:
        columns = ("bare_worker", "bare", "widget", "stock")
        rows = [[label, *(_cell(ready[mode].get(arm), fmt_ms) for arm in columns)]
                for mode, label in (("cold", "cold (new profile)"), ("reload", "warm, same-tab reload"),
                                    ("newtab", "warm, new tab"))]
        signed = ready.get("signed_in")
        if signed:
            rows.append([f"signed in ({signed['login']}), from the redirect back", "—", "—",
                         _cell(signed["back_to_ready"], fmt_ms), "—"])
        parts.append(table("Time to ready: from the click to ``data-state=\"ready\"``",
                           ["", "bare boot in a worker, the site's files", "bare boot on the main thread",
                            "access-levels page (widget)", "bare page, stock npm files"], rows, "20 20 20 20 20"))
    if ready and "cold" in ready:
        rows = []
        for mode, label in (("cold", "cold"), ("reload", "warm reload"), ("newtab", "warm new tab")):
            for arm, arm_label in (("widget", "widget"), ("bare_worker", "bare, worker"), ("bare", "bare, main thread")):
                metrics = ((ready.get(mode) or {}).get(arm) or {}).get("metrics") or {}
                if "longest_task" in metrics:
                    rows.append([f"{label}, {arm_label}", _cell(metrics["longest_task"], fmt_ms),
                                 _cell(metrics["blocking_time"], fmt_ms), _cell(ready[mode][arm], fmt_ms)])
        if rows:
            parts.append(table("The page's main thread between the click and ready (Long Tasks API)",
                               ["", "longest task", "total blocking time", "time to ready"], rows, "31 23 23 23"))
        marks = ("downloaded", "python-started", "checker-imported")
        phase_rows = []
        for mode, label in (("cold", "cold"), ("reload", "warm reload"), ("newtab", "warm new tab")):
            if mode not in ready:
                continue
            phases = (ready[mode].get("widget") or {}).get("phases") or {}
            phase_rows.append([label, *(_cell(phases.get(name), fmt_ms) for name in marks),
                               _cell(ready[mode].get("widget"), fmt_ms)])
        signed = ready.get("signed_in")
        if signed:
            phases = signed["back_to_ready"].get("phases") or {}
            phase_rows.append(["signed in (from the redirect back)", *(_cell(phases.get(name), fmt_ms) for name in marks),
                               _cell(signed["back_to_ready"], fmt_ms)])
        parts.append(table("The widget's phases (its ``access-checker:*`` User Timing marks), after the click",
                           ["", "downloads done", "Python started", "checker imported", "ready"], phase_rows,
                           "20 20 20 20 20"))
        steps = []
        for mode, label in (("cold", "cold"), ("reload", "warm reload"), ("newtab", "warm new tab")):
            stock, bare = median_of((ready.get(mode) or {}).get("stock")), median_of((ready.get(mode) or {}).get("bare"))
            if stock is not None and bare is not None:
                steps.append([f"precompiled standard library ({label})", f"bare page, stock npm files: {fmt_ms(stock)}",
                              f"bare page, the site's files: {fmt_ms(bare)}", f"{fmt_ms(stock - bare)} ({bare / stock:.2f} ×)"])
        plain, intent = median_of(ready["cold"].get("link")), median_of(ready["cold"].get("link_intent"))
        if plain is not None and intent is not None:
            steps.append(["preload on intent (cold, 40 Mbit/s link)", f"click at once: {fmt_ms(plain)}",
                          f"pointer rests 300 ms first: {fmt_ms(intent)}", f"{fmt_ms(plain - intent)} ({intent / plain:.2f} ×)"])
        main, worker = median_of(ready["cold"].get("bare")), median_of(ready["cold"].get("bare_worker"))
        if main is not None and worker is not None:
            steps.append(["Python in a worker (bare boot, cold)", f"main thread: {fmt_ms(main)}",
                          f"module worker: {fmt_ms(worker)}", f"{fmt_ms(main - worker)} ({worker / main:.2f} ×)"])
        if steps:
            parts.append(table("What a step buys, in this run (click → ready, medians)",
                               ["step", "without", "with", "saved"], steps, "31 23 23 23"))
        if signed:
            parts.append(f"Provider round trip on the return (discovery, token, UserInfo): "
                         f"{_cell(signed['round_trip'], fmt_ms)}; the provider's own sign-in (form submitted → "
                         f"redirect back): {_cell(signed['submit_to_back'], fmt_ms)}.\n")
    data = results.get("keys")
    if data:
        parts.append(f"Keystroke to message ({data['keystrokes']} keys on the ``{data['field']}`` field, already left "
                     f"once): {_cell(data['to_frame'], fmt_ms)} to the first frame after the message changed "
                     f"({_cell(data['to_change'], fmt_ms)} to the change itself).\n")
    data = results.get("network")
    if data:
        rows = [[label, fmt_ms(data[name]["loopback"]), fmt_ms(data[name]["link"]), fmt_ms(data[name]["share"]),
                 fmt_ms(data[name].get("downloads_share")), data["layouts"].get(name) or "—"]
                for name, label in (("site", "the site"), ("reference", "reference layout"))]
        parts.append(table("The network's share of cold click → ready (40 Mbit/s, 20 ms latency, minus loopback; medians)",
                           ["", "loopback", "emulated link", "share", "of the downloads alone", "runtime layout"], rows,
                           "12 11 11 11 11 44"))
    data = results.get("bytes")
    if data:
        rows = []
        for key, label in (("normal", f"``{NORMAL_DOC}``"), ("landing", "``index``"),
                           ("access_before_click", "access-levels page, before the click"),
                           ("access_ready", "access-levels page, checker ready"),
                           ("reference_access_ready", "the same, reference layout")):
            if key in data:
                d = data[key]
                rows.append([label, str(d["requests"]), fmt_bytes(d["transferred"]), fmt_bytes(d["gzip"]),
                             fmt_bytes(d.get("fonts_transferred")), fmt_bytes(d["checker_assets_gzip"]),
                             fmt_bytes(d["pyodide_transferred"])])
        others = data.get("other_pages", {})
        parts.append(table(f"Bytes, new profile, Resource Timing of the page and its worker (other pages: {len(others)} "
                           f"visited after using the checker, {sum(o['pyodide_requests'] for o in others.values())} "
                           "Pyodide requests)",
                           ["page", "requests", "transferred", "gzip -6 of the bodies", "web fonts (transferred)",
                            "checker UI (gzip)", "Pyodide (transferred)"], rows))
        files: dict[str, list[str]] = {}
        for key, column in (("access_ready", 0), ("reference_access_ready", 1)):
            for row in (data.get(key) or {}).get("resources", []):
                if row["transferred"] > 0:
                    cells = files.setdefault(row["url"].rsplit("/", 1)[-1], ["—", "—"])
                    cells[column] = f"{fmt_bytes(row['transferred'])} ({row['encoding']})"
        if files:
            parts.append(table("Every file the access page fetches until the checker is ready (transferred, encoding)",
                               ["file", "the site", "reference layout"], [[f"``{name}``", *cells] for name, cells in files.items()],
                               "40 30 30"))
    data = results.get("build")
    if data:
        rows = [[kind, _cell(data[kind].get("with"), fmt_s), _cell(data[kind].get("without"), fmt_s)]
                for kind in ("clean", "incremental")]
        rows.append(["cold cache (no target)", _cell(data["cold_cache"].get("with"), fmt_s), "—"])
        parts.append(table(f"Build, strict, one process per build (incremental: ``{data['touched']}`` touched)",
                           ["build", "with the extension", "without (directives as plain text)"], rows))
    data = results.get("core")
    if data:
        rows = [[f"``{call}()``", *(_cell(data[runtime][call], fmt_rate) for runtime in ("cpython", "pyodide"))]
                for call in ("evaluate", "validate_form")]
        parts.append(table("Core calls per second",
                           ["call", f"CPython {data['cpython']['python']}", f"Pyodide (Python {data['pyodide']['python']}, Node)"],
                           rows))
    units: dict[str, Callable[[float | None], str]] = {"ms": fmt_ms, "s": fmt_s, "B": fmt_bytes}
    rows = []
    for target in results.get("targets", []):
        fmt = units.get(target["unit"], str)
        verdict = target["verdict"] if target["hard"] or target["verdict"] == "n/a" else f"{target['verdict']} (info)"
        limit = f"= {fmt(target['limit'])}" if target["rule"].startswith("=") else f"{target['rule']}: {fmt(target['limit'])}"
        rows.append([target["name"], fmt(target["value"]), limit,
                     f"**{verdict}**" if verdict == "FAIL" else verdict])
    if rows:
        parts.append(table("Targets (hard ones fail ``make bench``)", ["target", "measured", "limit", "result"], rows,
                           "40 15 35 10"))
    return "\n".join(parts)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    path = Path(args[0]) if args else DEFAULT
    print(render(json.loads(path.read_text())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
