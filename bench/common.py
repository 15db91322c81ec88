"""What every benchmark shares: statistics, targets, progress lines, time bounds, Chromium."""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
NODE_MODULES = REPO / "node_modules"
PYODIDE_NPM = NODE_MODULES / "pyodide"
ACCESS_DOC = "reference/user-access-levels"
NORMAL_DOC = "howtos/train/index"
DEMO_CLIENT_ID = "ai4os-docs-demo"
# The flags of the browser tests (tests/e2e), plus one that fails every host name but
# 127.0.0.1 at once: the provider's form imports web fonts, and there is no internet.
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
    "--disable-component-update", "--disable-sync", "--disable-quic",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]


class BenchError(RuntimeError):
    """A benchmark could not measure what it should (not a missed target)."""


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def chromium_path() -> str:
    path = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        raise BenchError("Chromium is missing: install it (Debian/Ubuntu: apt-get install chromium).")
    return path


@dataclass
class Deadline:
    """The whole run's time budget; every loop checks it before it starts another run."""

    seconds: float
    start: float = field(default_factory=time.monotonic)

    def left(self) -> float:
        return self.seconds - (time.monotonic() - self.start)

    def check(self, what: str) -> None:
        if self.left() <= 0:
            raise BenchError(f"time budget of {self.seconds:.0f} s used up before {what}")


def stats(values: list[float]) -> dict[str, Any]:
    """Median and spread (IQR, min–max) of one arm; the raw values are kept too."""
    if not values:
        return {"n": 0, "median": None, "q1": None, "q3": None, "min": None, "max": None, "values": []}
    ordered = sorted(values)
    if len(ordered) >= 2:
        q1, _, q3 = statistics.quantiles(ordered, n=4, method="inclusive")
    else:
        q1 = q3 = ordered[0]
    return {"n": len(ordered), "median": statistics.median(ordered), "q1": q1, "q3": q3,
            "min": ordered[0], "max": ordered[-1], "values": values}


@dataclass
class Target:
    """One checked figure: ``hard`` targets fail the run; informational ones only print."""

    name: str
    value: float | None
    limit: float | None
    unit: str
    rule: str
    hard: bool = True
    note: str = ""

    @property
    def passed(self) -> bool | None:
        if self.value is None or self.limit is None:
            return None
        return self.value <= self.limit

    @property
    def verdict(self) -> str:
        if self.note.startswith("n/a"):
            return "n/a"
        passed = self.passed
        if passed is None:
            return "NO DATA"
        return "PASS" if passed else "FAIL"

    @property
    def fails_run(self) -> bool:
        return self.hard and self.verdict in ("FAIL", "NO DATA")

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "value": self.value, "limit": self.limit, "unit": self.unit, "rule": self.rule,
                "hard": self.hard, "verdict": self.verdict, "note": self.note}


def median_of(arm: dict[str, Any] | None) -> float | None:
    if not arm:
        return None
    value = arm.get("median")
    return float(value) if value is not None else None


def time_limit(baseline: float | None, extra: float = 0.0) -> float | None:
    """The time-to-ready limit: max(baseline × 1.15, baseline + 250 ms), plus ``extra``."""
    if baseline is None:
        return None
    return max(baseline * 1.15, baseline + 250.0) + extra


def fmt_ms(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f} ms"


def fmt_s(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.3f} s" if value < 10 else f"{value:.1f} s"


def fmt_bytes(value: float | None) -> str:
    if value is None:
        return "—"
    if abs(value) >= 1e6:
        return f"{value / 1e6:.2f} MB"
    if abs(value) >= 1e3:
        return f"{value / 1e3:.1f} KB"
    return f"{value:.0f} B"


def fmt_rate(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}/s"


def python_info() -> str:
    return f"CPython {sys.version.split()[0]}"
