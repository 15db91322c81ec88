"""Calls per second of the checker's core, the same code on CPython and inside Pyodide.

Standard library only, and no imports from ``bench``: ``core_pyodide.mjs`` copies this file
into Pyodide's file system and calls :func:`measure` there.
"""

from __future__ import annotations

import json
import statistics
import timeit
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

FORM: dict[str, object] = {
    "name": "Ada Lovelace",
    "email": "ada@example.org",
    "institution": "Analytical Engines Ltd",
    "projects": ["imagine", "ai4eosc"],
    "features": ["train", "develop"],
    "why": "We train plankton classifiers and need GPUs for it.",
    "planned_use": "Train a segmentation model on 200 GB of images.",
    "resources.gpus": "1",
    "resources.storage_gb": "200",
    "duration_months": "6",
    "heard_from": "A colleague at a workshop",
    "accepted_aup": True,
}
ACCOUNT: dict[str, object] = {"self_reported": False, "subject": "ada@egi.eu", "levels": {"ai4eosc": "basic"}}
WHEN = datetime(2025, 6, 1, 12, 30, 5, tzinfo=UTC)


def _rate(call: Callable[[], object], calls_per_run: int, repeats: int) -> dict[str, Any]:
    timer = timeit.Timer(call)
    number, _ = timer.autorange()  # loops for ≥ 0.2 s per repeat
    rates = [number * calls_per_run / seconds for seconds in timer.repeat(repeat=repeats, number=number)]
    ordered = sorted(rates)
    q1, _, q3 = statistics.quantiles(ordered, n=4, method="inclusive") if len(ordered) > 1 else (ordered[0],) * 3
    return {"n": len(rates), "median": statistics.median(rates), "q1": q1, "q3": q3, "min": ordered[0],
            "max": ordered[-1], "values": rates, "loops": number}


def measure(accounts_json: str, repeats: int) -> str:
    """JSON: calls/s of ``evaluate`` (every demo account's claims) and ``validate_form``."""
    from access_checker import default_policy, evaluate
    from access_checker.request import validate_form

    policy = default_policy()
    claims = [{k: v for k, v in account.items() if not k.startswith("_")} for account in json.loads(accounts_json).values()]

    def evaluate_all() -> None:
        for one in claims:
            evaluate(one, policy)

    def validate() -> object:
        result = validate_form(FORM, policy, account=ACCOUNT, clock=lambda: WHEN, new_id=lambda: "bench")
        if result.errors:
            raise AssertionError(f"the benchmark form is invalid: {result.errors}")
        return result

    return json.dumps({
        "evaluate": _rate(evaluate_all, len(claims), repeats),
        "validate_form": _rate(validate, 1, repeats),
        "accounts": len(claims),
    })
