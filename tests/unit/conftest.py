"""Core tests run on CPython and inside Pyodide: standard library, pytest and hypothesis only.

Nothing here may import the Sphinx side or compiled packages (jsonschema needs rpds-py):
tests that do are marked ``cpython_only`` and import it inside the test.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from access_checker.policy import Policy, default_policy, load_policy

settings.register_profile("default", deadline=None)
settings.register_profile("pyodide", database=None, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

POLICIES = Path(__file__).resolve().parent / "policies"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "cpython_only: needs compiled packages; not run inside Pyodide")


@pytest.fixture(scope="session")
def policy() -> Policy:
    return default_policy()


@pytest.fixture(scope="session")
def extended_policy() -> Policy:
    """The AI4OS policy plus KMD4EOSC, tutorials and an "intermediate" level: data only."""
    return load_policy(POLICIES / "extended.toml")
