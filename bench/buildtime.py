"""Build time: the site with the checker's extension versus the same sources without it.

Two copies of the sources in a temporary folder: ``with`` as they are; ``without`` with
``sphinx_access_checker`` replaced in ``conf.py`` by :mod:`bench.nochecker` (the same
directive and role names, rendering plain text). Each round, in rotating order, each copy gets:

- a clean build: empty output folder (doctrees included), warm caches: the extension's
  ``access_checker_cache_dir`` is kept between runs;
- an incremental rebuild after touching one page.

Then cold-cache builds of ``with`` (empty output and an empty cache folder): reported only.
Every build is the strict one (``-n -W --keep-going``), in its own process, timed from start
to exit.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from bench.common import REPO, BenchError, Deadline, log, stats
from bench.ready import rotate
from bench.site import demo_env, run_build, sphinx_command

DOC_SOURCES = ("conf.py", "index.rst", "getting-started", "reference", "howtos", "help", "_theme")
POLICY = Path("checker/core/access_checker/policies/ai4os.toml")
TOUCHED = "howtos/train/index.rst"
EXTENSION = '"sphinx_access_checker"'
STUB = '"bench.nochecker"'
ARMS = ("with", "without")


def copy_sources(target: Path, *, extension: bool) -> Path:
    target.mkdir(parents=True)
    for name in DOC_SOURCES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        elif source.exists():
            shutil.copy2(source, target / name)
    (target / POLICY).parent.mkdir(parents=True)
    shutil.copy2(REPO / POLICY, target / POLICY)
    if not extension:
        conf = (target / "conf.py").read_text(encoding="utf-8")
        if conf.count(EXTENSION) != 1:
            raise BenchError(f"conf.py does not name {EXTENSION} exactly once in extensions: cannot disable it")
        (target / "conf.py").write_text(conf.replace(EXTENSION, STUB), encoding="utf-8")
    return target


def run(work: Path, cache: Path, runs: int, cold_runs: int, deadline: Deadline) -> dict[str, Any]:
    env = {**demo_env(9400), "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH", "")]))}
    sources = {arm: copy_sources(work / f"src-{arm}", extension=arm == "with") for arm in ARMS}
    outs = {arm: work / f"out-{arm}" for arm in ARMS}
    commands = {arm: sphinx_command(sources[arm], outs[arm], cache if arm == "with" else None) for arm in ARMS}

    for arm in ARMS:  # warm-up: fills the extension's cache, the OS file cache, Python's bytecode
        deadline.check("build warm-up")
        shutil.rmtree(outs[arm], ignore_errors=True)
        log(f"build warm-up {arm}: {run_build(commands[arm], env):.2f} s")

    clean: dict[str, list[float]] = {arm: [] for arm in ARMS}
    incremental: dict[str, list[float]] = {arm: [] for arm in ARMS}
    for index in range(runs):
        for arm in rotate(ARMS, index):
            deadline.check(f"build round {index + 1}")
            shutil.rmtree(outs[arm], ignore_errors=True)
            seconds = run_build(commands[arm], env)
            clean[arm].append(seconds)
            os.utime(sources[arm] / TOUCHED)
            again = run_build(commands[arm], env)
            incremental[arm].append(again)
            log(f"build {index + 1}/{runs} {arm}: clean {seconds:.2f} s, incremental {again:.2f} s")

    cold: list[float] = []
    for index in range(cold_runs):
        deadline.check(f"cold-cache build {index + 1}")
        empty = work / f"cold-cache-{index}"
        out = work / f"out-cold-{index}"
        seconds = run_build(sphinx_command(sources["with"], out, empty), env)
        cold.append(seconds)
        shutil.rmtree(out, ignore_errors=True)
        shutil.rmtree(empty, ignore_errors=True)
        log(f"build cold cache {index + 1}/{cold_runs}: {seconds:.2f} s")

    return {
        "clean": {arm: stats(values) for arm, values in clean.items()},
        "incremental": {arm: stats(values) for arm, values in incremental.items()},
        "cold_cache": {"with": stats(cold)},
        "touched": TOUCHED,
        "unit": "s",
    }
