"""The local stack as its users meet it: real processes over HTTP, no mocks.

These tests fail, not skip, when Node.js or the npm packages are missing: the stack is part of
the product's development contract.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dev.stack import Stack, free_port, running_stack
from tests.dev.client import fetch, make_site


@pytest.fixture(scope="session")
def site_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_site(tmp_path_factory.mktemp("site"))


@pytest.fixture(scope="session")
def live_stack(site_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(
        site_root, port=free_port(), idp_port=free_port(), test_controls=True, log_dir=tmp_path_factory.mktemp("stack-logs")
    ) as stack:
        yield stack


@pytest.fixture
def stack(live_stack: Stack) -> Iterator[Stack]:
    """The shared stack, with every fault switched off again after each test."""
    yield live_stack
    reply = fetch("DELETE", f"{live_stack.idp_url}/__test__/faults")
    assert reply.status == 200, f"{reply.status} {reply.text}\n{live_stack.logs()}"
