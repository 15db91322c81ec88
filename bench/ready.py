"""Time to ready: from the click on ``[data-action=start]`` to ``data-state="ready"``.

Cold arms, measured in one run with the arms' order rotating every round (which of them run
depends on the stages chosen, ``bench/run.py``):

- ``widget``: the access-levels page (its start button: check without signing in);
- ``bare_worker``: ``_bench/bare-worker.html``, the same Pyodide files booted in a module Web
  Worker with the widget's ``loadPyodide`` options, then ``runPython("1+1")``: the baseline of
  the cold rule, since the widget's Python runs in a worker too;
- ``bare``: ``_bench/bare.html``, the same boot on the page's main thread (reported beside it);
- ``stock``: ``_bench/stock.html``, the npm files as shipped (stock stdlib), main thread;
- ``link`` and ``link_intent``: the widget on a 40 Mbit/s link with 20 ms latency (Chromium's
  network emulation), clicked at once, and after the pointer rested on the start button for
  300 ms, as a reader's does: what preloading on intent buys, which localhost cannot show;
- ``reference`` and ``reference_link``: the widget of the *reference* site (``bench/site.py``:
  the runtime layout before precompressed siblings and a trimmed stdlib), on loopback and on
  the same emulated link: the network's share of the wait (link minus loopback) of both
  layouts, in the same run;
- ``signed_in``: the return from the provider, signed in.

Cold: a new browser profile (a new persistent context) per run. Warm, in one profile after two
priming rounds: the same tab reloaded (its session storage cleared first, so that the widget
waits for the click instead of starting by itself) and a new tab. Signed in (cold profile):
sign in through the demo provider's form; measured from the moment the provider redirects back
(the callback document's navigation timing) to ready; the provider round trip is the span of
the callback page's requests to the provider (discovery, token, UserInfo).

Both ends of every interval are read in the page (``performance.now()``): a capturing click
listener and a MutationObserver on ``data-state``; the widget's phases are its
``access-checker:*`` User Timing marks. The main thread's long tasks (the Long Tasks API, a
``PerformanceObserver`` registered by an init script before anything of the page runs,
``buffered``) give, for each run, the longest task and the total blocking time (the sum over
long tasks of their time beyond 50 ms) of the tasks that overlap the interval from the click
to the widget's ``access-checker:ready`` mark (the bare pages: to their ``data-state``
change). Waiting is on ``window.accessChecker.ready`` (``window.bare.ready`` on the
baselines), bounded in time; nothing sleeps but the intent arm's simulated pointer rest.
"""

from __future__ import annotations

import contextlib
import functools
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from playwright.sync_api import BrowserContext, Page, Playwright

from bench.common import CHROMIUM_FLAGS, BenchError, Deadline, chromium_path, log, stats

READY_TIMEOUT_MS = 120_000
ACTION_TIMEOUT_MS = 60_000
MAX_CONSECUTIVE_FAILURES = 3
# Every cold arm, in the order of the first round (later rounds rotate it).
COLD_ARMS = ("bare", "bare_worker", "widget", "stock", "link", "link_intent", "reference", "reference_link", "signed_in")
WARM_ARMS = ("bare", "bare_worker", "widget", "stock")
INTENT_DWELL_MS = 300  # a reader's pointer resting on the button before the click
LINK_ARMS = ("link", "link_intent", "reference_link")
# A realistic link (CDP Network.emulateNetworkConditions: bytes/s, ms). It applies to the
# checker's worker too: its downloads take the link's time (checked: Resource Timing in the worker).
LINK = {"offline": False, "latency": 20, "downloadThroughput": 40e6 / 8, "uploadThroughput": 10e6 / 8}
LONG_TASK_MS = 50.0  # a task longer than this blocks; the part beyond it is "blocking time"

INIT_JS = """
(() => {
  const t = window.__bench = { click: null, ready: null, error: null, longtasks: [], longtaskApi: false };
  // The main thread's long tasks, from the document's start (buffered: none is missed).
  const keep = (entries) => { for (const e of entries) t.longtasks.push([e.startTime, e.duration]); };
  let observer = null;
  try {
    observer = new PerformanceObserver((list) => keep(list.getEntries()));
    observer.observe({ type: "longtask", buffered: true });
    t.longtaskApi = true;
  } catch {}
  addEventListener("click", (event) => {
    const el = event.target instanceof Element ? event.target.closest("[data-action]") : null;
    if (el && el.getAttribute("data-action") === "start" && t.click === null) t.click = performance.now();
  }, true);
  new MutationObserver((records) => {
    for (const record of records) {
      const state = record.target.getAttribute("data-state");
      if (state === "ready" && t.ready === null) t.ready = performance.now();
      if (state === "error" && t.error === null) t.error = performance.now();
    }
  }).observe(document, { attributes: true, attributeFilter: ["data-state"], subtree: true });
  // The figures with the widget's phases: its User Timing marks ("access-checker:downloaded",
  // …), the first of each name, for a breakdown of the time to ready.
  window.__benchTimes = () => {
    const phases = [];
    for (const m of performance.getEntriesByType("mark")) {
      const name = m.name.startsWith("access-checker:") ? m.name.slice("access-checker:".length) : null;
      if (name && !phases.some(([seen]) => seen === name)) phases.push([name, m.startTime]);
    }
    if (observer) keep(observer.takeRecords()); // reported, not yet delivered to the callback
    return { ...t, longtasks: [...t.longtasks], phases };
  };
})();
"""

# Resolves "ready", "error" or "timeout"; waits for the page's API to exist first.
WAIT_JS = """
(ms) => new Promise((resolve) => {
  const deadline = performance.now() + ms;
  const timer = setTimeout(() => resolve("timeout"), ms);
  const done = (what) => { clearTimeout(timer); resolve(what); };
  const attach = () => {
    const api = window.accessChecker || window.bare;
    if (api && api.ready) { api.ready.then(() => done("ready"), () => done("error")); return; }
    if (performance.now() < deadline) setTimeout(attach, 10);
  };
  attach();
})
"""

STATE_JS = """
() => {
  const el = document.querySelector("[data-state]");
  return el ? { state: el.dataset.state || "", error: el.dataset.error || "", signin: el.dataset.signin || "",
                level: el.dataset.level || "" } : null;
}
"""

CALLBACK_JS = """
(idp) => ({
  nav: (performance.getEntriesByType("navigation")[0] || null)?.toJSON() ?? null,
  idp: performance.getEntriesByType("resource").filter((e) => e.name.startsWith(idp))
    .map((e) => ({ name: e.name, start: e.startTime, end: e.responseEnd })),
  bench: window.__benchTimes(),
})
"""


def rotate(items: tuple[str, ...], round_index: int) -> list[str]:
    """The arms' order in one round: rotated every round, so that each arm leads in turn."""
    shift = round_index % len(items)
    return list(items[shift:] + items[:shift])


@contextlib.contextmanager
def fresh_profile(pw: Playwright) -> Iterator[BrowserContext]:
    """A new Chromium with a new, empty user-data-dir (HTTP cache, code cache, storage)."""
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as profile:
        context = pw.chromium.launch_persistent_context(
            profile, executable_path=chromium_path(), args=CHROMIUM_FLAGS, headless=True,
            viewport={"width": 1280, "height": 900}, timeout=ACTION_TIMEOUT_MS,
        )
        try:
            context.set_default_timeout(ACTION_TIMEOUT_MS)
            context.add_init_script(INIT_JS)
            yield context
        finally:
            context.close()


def _page(context: BrowserContext) -> Page:
    return context.pages[0] if context.pages else context.new_page()


# The figures, read once the task that made the page ready and the next frame are over (a long
# task is reported when it ends, so the one that sets ready is in the list by then).
TIMES_JS = """
() => new Promise((resolve) => requestAnimationFrame(() => setTimeout(
  () => resolve(window.__benchTimes ? window.__benchTimes() : null), 0)))
"""


def _wait_ready(page: Page, what: str) -> dict[str, Any]:
    outcome = page.evaluate(WAIT_JS, READY_TIMEOUT_MS)
    times: dict[str, Any] = page.evaluate(TIMES_JS) or {}
    if outcome != "ready" or times.get("ready") is None:
        raise BenchError(f"{what}: {outcome} (state {page.evaluate(STATE_JS)}) at {page.url}")
    return times


@dataclass
class Sample:
    """One run: milliseconds to ready, when each widget phase began (ms after the same start),
    and other figures of the same interval (the main thread's long tasks)."""

    value: float
    phases: dict[str, float] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)


def _phases(times: dict[str, Any], start: float) -> dict[str, float]:
    return {str(name): float(at) - start for name, at in times.get("phases") or []}


def blocking(times: dict[str, Any], start: float) -> dict[str, float]:
    """The main thread's long tasks that overlap [start, ready]: the longest, the total
    blocking time and how many. "ready" is the widget's ``access-checker:ready`` mark (the
    bare pages have none: their ``data-state`` change). Empty when the API is missing."""
    if not times.get("longtaskApi"):
        return {}
    marks = dict(times.get("phases") or [])
    end = float(marks.get("ready", times["ready"]))
    tasks = [(float(at), float(duration)) for at, duration in times.get("longtasks") or []
             if float(at) + float(duration) > start and float(at) < end]
    return {"longest_task": max((d for _, d in tasks), default=0.0),
            "blocking_time": sum(max(0.0, d - LONG_TASK_MS) for _, d in tasks),
            "long_tasks": float(len(tasks))}


def click_to_ready(page: Page, url: str | None, what: str, dwell_ms: int = 0) -> Sample:
    """Open ``url`` (None: the page is loaded already), click start, wait; milliseconds.

    ``dwell_ms``: the pointer rests on the button that long before the click, as a reader's
    does (the widget preloads on that intent); the time still runs from the click.
    """
    if url is not None:
        page.goto(url, wait_until="load")
    if page.evaluate("window.__bench || null") is None:
        raise BenchError(f"{what}: the measuring script is missing from {page.url}")
    if dwell_ms:
        page.hover("[data-action=start]")
        page.wait_for_timeout(dwell_ms)  # the reader's pause, not a wait for a condition
    page.click("[data-action=start]")
    times = _wait_ready(page, what)
    if times.get("click") is None:
        raise BenchError(f"{what}: the click was not seen by the page")
    click = float(times["click"])
    return Sample(float(times["ready"]) - click, _phases(times, click), blocking(times, click))


def reload_to_ready(page: Page, what: str) -> Sample:
    # A reader who used the checker in this tab gets it started by itself on reload; clear the
    # tab's session storage so that the reload, like the other arms, waits for the click.
    page.evaluate("sessionStorage.clear()")
    page.reload(wait_until="load")
    return click_to_ready(page, None, what)


def signed_in_once(pw: Playwright, access_url: str, idp_url: str, login: str) -> tuple[dict[str, float], Sample]:
    """Sign in through the provider's form (fresh profile); times of the return to the page."""
    with fresh_profile(pw) as context:
        page = _page(context)
        page.goto(access_url, wait_until="load")
        page.click("[data-action=sign-in]")
        page.wait_for_selector("input[name=login]")
        page.fill("input[name=login]", login)
        page.fill("input[name=password]", "any password works")
        submitted = page.evaluate("performance.timeOrigin + performance.now()")
        page.click("button[type=submit]")
        page.wait_for_url(lambda url: url.startswith(access_url), wait_until="load")
        _wait_ready(page, f"signed in as {login}")
        info: dict[str, Any] = page.evaluate(CALLBACK_JS, idp_url)
        state = page.evaluate(STATE_JS) or {}
        if state.get("signin") != "signed-in":
            raise BenchError(f"signed in as {login}: ready but data-signin={state.get('signin')!r}")
        nav = info.get("nav") or {}
        # The navigation to the callback starts at the form's POST to the provider; fetchStart
        # is when the browser starts fetching the callback document itself, after the provider's
        # redirects: the moment the provider sends the reader back.
        back = float(nav.get("fetchStart") or 0.0)
        ready = float(info["bench"]["ready"])
        spans = [(float(e["start"]), float(e["end"])) for e in info.get("idp", []) if e.get("end")]
        round_trip = (max(end for _, end in spans) - min(start for start, _ in spans)) if spans else 0.0
        time_origin = float(page.evaluate("performance.timeOrigin"))
        return {
            "back_to_ready": ready - back,
            "round_trip": round_trip,
            "navigation_to_ready": ready,
            "submit_to_back": time_origin + back - float(submitted),
            "provider_requests": float(len(spans)),
        }, Sample(ready - back, _phases(info["bench"], back), blocking(info["bench"], back))


class Arms:
    """Samples per arm, with failures counted and a stop after repeated failures."""

    def __init__(self, names: tuple[str, ...]) -> None:
        self.values: dict[str, list[float]] = {name: [] for name in names}
        self.failures: dict[str, list[str]] = {name: [] for name in names}
        self.phases: dict[str, list[dict[str, float]]] = {name: [] for name in names}
        self.metrics: dict[str, list[dict[str, float]]] = {name: [] for name in names}
        self._streak: dict[str, int] = dict.fromkeys(names, 0)

    def usable(self, name: str) -> bool:
        return self._streak[name] < MAX_CONSECUTIVE_FAILURES

    def measure(self, name: str, label: str, run: Callable[[], Sample]) -> None:
        if not self.usable(name):
            return
        try:
            sample = run()
        except Exception as exc:  # a run that fails is recorded; the others go on
            self._streak[name] += 1
            message = str(exc).splitlines()[0][:300]
            self.failures[name].append(message)
            log(f"{label} {name}: FAILED: {message}")
            return
        self._streak[name] = 0
        self.values[name].append(sample.value)
        self.phases[name].append(sample.phases)
        self.metrics[name].append(sample.metrics)
        extra = ""
        if "longest_task" in sample.metrics:
            extra = (f" (longest main-thread task {sample.metrics['longest_task']:,.0f} ms, "
                     f"blocking {sample.metrics['blocking_time']:,.0f} ms)")
        log(f"{label} {name}: {sample.value:,.0f} ms{extra}")

    @staticmethod
    def _by_key(runs: list[dict[str, float]]) -> dict[str, Any]:
        names = list(dict.fromkeys(key for run in runs for key in run))
        return {key: stats([run[key] for run in runs if key in run]) for key in names}

    def summary(self) -> dict[str, Any]:
        return {name: {**stats(values), "failures": self.failures[name], "phases": self._by_key(self.phases[name]),
                       "metrics": self._by_key(self.metrics[name])}
                for name, values in self.values.items()}


@dataclass(frozen=True)
class Urls:
    """Where the arms' pages are: the site (its access page, the baselines), the provider and
    the reference site (None: not served)."""

    site: str
    access_path: str
    idp: str
    reference: str | None = None

    def of(self, arm: str) -> str:
        if arm in ("reference", "reference_link"):
            if self.reference is None:
                raise BenchError("the reference site is not served")
            return f"{self.reference}{self.access_path}"
        pages = {"bare": "bare.html", "bare_worker": "bare-worker.html", "stock": "stock.html"}
        if arm in pages:
            return f"{self.site}/_bench/{pages[arm]}"
        return f"{self.site}{self.access_path}"  # widget, link, link_intent, signed_in


def run(pw: Playwright, urls: Urls, runs: int, login: str, deadline: Deadline, *,
        cold_arms: tuple[str, ...], warm: bool) -> dict[str, Any]:
    """Cold runs of ``cold_arms`` (a subset of COLD_ARMS), then the warm arms when ``warm``."""
    unknown = set(cold_arms) - set(COLD_ARMS)
    if unknown:
        raise BenchError(f"unknown cold arms {sorted(unknown)}")
    order = tuple(arm for arm in COLD_ARMS if arm in cold_arms)
    access_url = urls.of("widget")

    # Cold, with the signed-in return in the same rotation (its baseline is the cold bare boot).
    cold = Arms(order)
    signed: list[dict[str, float]] = []

    def cold_run(arm: str) -> Sample:
        with fresh_profile(pw) as context:
            page = _page(context)
            if arm in LINK_ARMS:
                cdp = context.new_cdp_session(page)
                cdp.send("Network.enable")
                cdp.send("Network.emulateNetworkConditions", LINK)
            dwell = INTENT_DWELL_MS if arm == "link_intent" else 0
            return click_to_ready(page, urls.of(arm), f"cold {arm}", dwell)

    def signed_run() -> Sample:
        result, sample = signed_in_once(pw, access_url, urls.idp, login)
        signed.append(result)
        return sample

    for index in range(runs):
        for arm in rotate(order, index):
            deadline.check(f"cold run {index + 1}")
            label = f"ready cold {index + 1}/{runs}"
            cold.measure(arm, label, signed_run if arm == "signed_in" else functools.partial(cold_run, arm))

    cold_summary = cold.summary()
    out: dict[str, Any] = {"cold": cold_summary}
    if "signed_in" in cold_summary:
        signed_in = cold_summary.pop("signed_in")
        extra = {key: stats([s[key] for s in signed]) for key in ("round_trip", "navigation_to_ready", "submit_to_back")}
        out["signed_in"] = {"back_to_ready": signed_in, **extra, "login": login,
                            "provider_requests": [s["provider_requests"] for s in signed]}
    if not warm:
        return out

    # Warm: one profile; each arm primed twice (a load and a reload), not counted.
    reload = Arms(WARM_ARMS)
    newtab = Arms(WARM_ARMS)
    with fresh_profile(pw) as context:
        tabs: dict[str, Page] = {}
        for arm in WARM_ARMS:
            deadline.check("warm priming")
            tabs[arm] = context.new_page()
            click_to_ready(tabs[arm], urls.of(arm), f"prime {arm}")
            reload_to_ready(tabs[arm], f"prime {arm}")
        log("warm: primed")
        for index in range(runs):
            for arm in rotate(WARM_ARMS, index):
                deadline.check(f"reload run {index + 1}")
                reload.measure(arm, f"ready warm reload {index + 1}/{runs}",
                               functools.partial(reload_to_ready, tabs[arm], f"reload {arm}"))

        def new_tab(arm: str) -> Sample:
            page = context.new_page()
            try:
                return click_to_ready(page, urls.of(arm), f"new tab {arm}")
            finally:
                page.close()

        for index in range(runs):
            for arm in rotate(WARM_ARMS, index):
                deadline.check(f"new-tab run {index + 1}")
                newtab.measure(arm, f"ready warm new tab {index + 1}/{runs}", functools.partial(new_tab, arm))
    out["reload"] = reload.summary()
    out["newtab"] = newtab.summary()
    return out
