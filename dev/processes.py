"""Start a server process and wait until it serves: the one helper the stack and the tests share.

A server is ready when it has printed its ready line (when it has one) and its URL answers.
Both are required: an answer alone could come from a stale server on the same port while the
new one failed to bind. Waiting ends early, with the log's last lines, if the process exits.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
STARTUP_TIMEOUT = 15.0
STOP_TIMEOUT = 5.0
POLL_INTERVAL = 0.05


class NotServingError(RuntimeError):
    """A server exited, or did not answer in time, while starting."""


def free_port() -> int:
    """A port that was free a moment ago on 127.0.0.1 (callers bind it right after)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        return f"(unreadable: {exc})"
    return "\n".join(text.splitlines()[-lines:]) or "(empty)"


def answers(url: str) -> bool:
    """Whether an HTTP server answers at ``url`` (any status below 500)."""
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return int(response.status) < 500
    except urllib.error.HTTPError as exc:
        # The server is up; e.g. a 404 only means the root has no index.html.
        return exc.code < 500
    except (OSError, ValueError):
        return False


def poll_until(condition: Callable[[], bool], *, timeout: float, what: str) -> None:
    """Return as soon as ``condition()`` holds; raise TimeoutError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not after {timeout:g} s")
        time.sleep(POLL_INTERVAL)


def start(argv: Sequence[str], *, log: Path, env: Mapping[str, str], cwd: Path = REPO) -> subprocess.Popen[bytes]:
    """Start ``argv`` with its output (stdout and stderr) going to ``log``."""
    with log.open("wb") as out:
        return subprocess.Popen(
            list(argv), cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
        )


def wait_until_serving(
    proc: subprocess.Popen[bytes],
    url: str,
    *,
    log: Path,
    name: str,
    ready_line: str | None = None,
    timeout: float = STARTUP_TIMEOUT,
) -> None:
    """Return once ``proc`` has printed ``ready_line`` (if given) and ``url`` answers.

    Raises NotServingError, quoting the log's last lines, if it exits first or the timeout passes.
    """

    def ready() -> bool:
        code = proc.poll()
        if code is not None:
            raise NotServingError(f"{name} exited with code {code} while starting\n--- {log}:\n{tail(log)}")
        return (ready_line is None or ready_line in tail(log, 200)) and answers(url)

    try:
        poll_until(ready, timeout=timeout, what=f"{name} serving {url}")
    except TimeoutError as exc:
        raise NotServingError(f"{exc}\n--- {log}:\n{tail(log)}") from None


def stop(proc: subprocess.Popen[bytes], timeout: float = STOP_TIMEOUT) -> int:
    """SIGTERM, then SIGKILL after ``timeout`` seconds; the exit status."""
    if proc.poll() is None:
        proc.terminate()
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


@contextlib.contextmanager
def serving(
    argv: Sequence[str],
    url: str,
    *,
    log: Path,
    env: Mapping[str, str],
    name: str,
    ready_line: str | None = None,
    timeout: float = STARTUP_TIMEOUT,
) -> Iterator[subprocess.Popen[bytes]]:
    """Start a server, wait until it serves ``url``, and stop it on exit."""
    proc = start(argv, log=log, env=env)
    try:
        wait_until_serving(proc, url, log=log, name=name, ready_line=ready_line, timeout=timeout)
        yield proc
    finally:
        stop(proc)
