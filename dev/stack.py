"""Run the local stack: the built site and the demo OpenID provider, both on loopback.

``python dev/stack.py [--root _build/html]`` serves the site at http://127.0.0.1:$PORT
(default 8000) and the provider at http://127.0.0.1:$IDP_PORT (default 9400) until
Ctrl-C. ``DEMO_IDP_*`` variables and ``ACCESS_CHECKER_CSP_OVERRIDE`` are passed on.

Tests use :func:`running_stack` and :func:`free_port`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

REPO = Path(__file__).resolve().parent.parent
PROVIDER_SCRIPT = REPO / "dev" / "idp" / "provider.mjs"
SERVER_SCRIPT = REPO / "dev" / "serve.py"
DEFAULT_ACCOUNTS = REPO / "dev" / "idp" / "accounts.json"
OIDC_PROVIDER_PACKAGE = REPO / "node_modules" / "oidc-provider" / "package.json"
ACCESS_PAGE = "/reference/user-access-levels.html"
HOST = "127.0.0.1"
MIN_NODE_MAJOR = 20
STARTUP_TIMEOUT = 15.0
STOP_TIMEOUT = 5.0
IDP_READY_LINE = "demo OpenID provider ready at "
SITE_READY_LINE = "serving "

# Variables that decide what the children do. running_stack sets them from its
# arguments only, so a developer's shell cannot change what a test runs against.
_CONTROLLED_ENV = ("ISSUER_ORIGIN", "ACCESS_CHECKER_CSP_OVERRIDE", "PORT", "IDP_PORT")
_CONTROLLED_PREFIX = "DEMO_IDP_"


class StackError(RuntimeError):
    """The stack could not start (missing tool, port in use, child crashed...)."""


@dataclass
class Stack:
    site_url: str
    idp_url: str
    redirect_uris: tuple[str, ...]
    site_log: Path
    idp_log: Path
    _processes: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list, repr=False)

    @property
    def redirect_uri(self) -> str:
        return self.redirect_uris[0]

    def alive(self) -> bool:
        return bool(self._processes) and all(p.poll() is None for _, p in self._processes)

    def stop(self) -> None:
        """Terminate both children: SIGTERM, then SIGKILL after a grace period."""
        for _, proc in self._processes:
            if proc.poll() is None:
                proc.terminate()
        for _, proc in self._processes:
            try:
                proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def logs(self, lines: int = 30) -> str:
        return "\n".join(f"--- last lines of {path}:\n{tail(path, lines)}" for path in (self.idp_log, self.site_log))


def tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        return f"(unreadable: {exc})"
    return "\n".join(text.splitlines()[-lines:]) or "(empty)"


def free_port() -> int:
    """A port that was free a moment ago on 127.0.0.1 (tests bind it right after)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def find_node() -> str:
    """The node executable, checked to be new enough; raises StackError otherwise."""
    node = shutil.which("node")
    if node is None:
        raise StackError(f"node not found on PATH: the demo OpenID provider needs Node.js {MIN_NODE_MAJOR} or later")
    try:
        out = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        raise StackError(f"cannot run {node} --version: {exc}") from exc
    match = re.match(r"v(\d+)\.", out)
    if match is None or int(match.group(1)) < MIN_NODE_MAJOR:
        raise StackError(f"{node} is {out or 'of unknown version'}; need v{MIN_NODE_MAJOR}+")
    if not OIDC_PROVIDER_PACKAGE.is_file():
        raise StackError(f"{OIDC_PROVIDER_PACKAGE.parent} is missing: run `npm ci` in {REPO} first")
    return node


def load_accounts(path: Path) -> dict[str, dict[str, object]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise StackError(f"cannot read accounts file {path}: {exc}") from exc
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise StackError(f"{path}: expected a JSON object mapping login -> claims")
    return data


def describe_accounts(path: Path) -> list[tuple[str, str]]:
    """(login, one-line description) per account, from each account's "_description"."""
    described = []
    for login, claims in load_accounts(path).items():
        description = claims.get("_description")
        described.append((login, description if isinstance(description, str) else ""))
    return described


def _base_env() -> dict[str, str]:
    return {
        name: value for name, value in os.environ.items() if name not in _CONTROLLED_ENV and not name.startswith(_CONTROLLED_PREFIX)
    }


def _wait_ready(stack: Stack, processes: Sequence[tuple[str, subprocess.Popen[bytes]]]) -> None:
    # Both the ready line and an HTTP answer are required: an answer alone could come
    # from a stale server on the same port while our child fails to bind.
    checks = {
        "demo OpenID provider": (stack.idp_log, IDP_READY_LINE, f"{stack.idp_url}/__health"),
        "site server": (stack.site_log, SITE_READY_LINE, f"{stack.site_url}/"),
    }
    pending = dict(checks)
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while pending:
        for name, proc in processes:
            code = proc.poll()
            if code is not None:
                raise StackError(f"{name} exited with code {code} while starting\n{stack.logs()}")
        for name, (log, line, url) in list(pending.items()):
            if line in tail(log, 200) and _answers(url):
                del pending[name]
        if not pending:
            return
        if time.monotonic() > deadline:
            raise StackError(f"{', '.join(pending)} not ready after {STARTUP_TIMEOUT:.0f} s\n{stack.logs()}")
        time.sleep(0.1)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            status: int = response.status
            return 200 <= status < 300
    except urllib.error.HTTPError as exc:
        # The server is up; an error status here only means the root has no index.html.
        return exc.code < 500
    except (OSError, ValueError):
        return False


@contextlib.contextmanager
def running_stack(
    site_root: Path,
    *,
    port: int,
    idp_port: int,
    accounts: Path | None = None,
    test_controls: bool = False,
    extra_env: Mapping[str, str] | None = None,
    csp_override: str | None = None,
    log_dir: Path | None = None,
) -> Iterator[Stack]:
    """Start the demo provider and the site server; stop both on exit.

    ``extra_env`` is added to both children's environment last, so it can override
    e.g. ``DEMO_IDP_REDIRECT_URIS``. Logs go to ``log_dir`` (kept) or to a temporary
    directory (removed on exit; startup errors quote the logs' last lines).
    """
    node = find_node()
    root = Path(site_root).resolve()
    if not root.is_dir():
        raise StackError(f"site root {root} is not a directory")
    accounts_file = Path(accounts).resolve() if accounts is not None else DEFAULT_ACCOUNTS

    temp_dir: str | None = None
    if log_dir is None:
        temp_dir = tempfile.mkdtemp(prefix="ai4os-stack-")
        log_dir = Path(temp_dir)
    log_dir.mkdir(parents=True, exist_ok=True)

    site_url = f"http://{HOST}:{port}"
    idp_url = f"http://{HOST}:{idp_port}"
    page = site_url + ACCESS_PAGE
    base = _base_env()
    idp_env = {
        **base,
        "IDP_PORT": str(idp_port),
        "DEMO_IDP_ACCOUNTS": str(accounts_file),
        "DEMO_IDP_REDIRECT_URIS": page,
        "DEMO_IDP_POST_LOGOUT_URIS": page,
    }
    if test_controls:
        idp_env["DEMO_IDP_TEST_CONTROLS"] = "1"
    site_env = {**base, "PORT": str(port), "ISSUER_ORIGIN": idp_url}
    if csp_override is not None:
        site_env["ACCESS_CHECKER_CSP_OVERRIDE"] = csp_override
    if extra_env:
        idp_env.update(extra_env)
        site_env.update(extra_env)

    stack = Stack(
        site_url=site_url,
        idp_url=idp_url,
        redirect_uris=tuple(idp_env["DEMO_IDP_REDIRECT_URIS"].split()),
        site_log=log_dir / "site.log",
        idp_log=log_dir / "idp.log",
    )
    commands = [
        ("demo OpenID provider", [node, str(PROVIDER_SCRIPT)], idp_env, stack.idp_log),
        (
            "site server",
            [sys.executable, str(SERVER_SCRIPT), "--root", str(root), "--port", str(port)],
            site_env,
            stack.site_log,
        ),
    ]
    try:
        for name, argv, env, log in commands:
            with log.open("wb") as out:
                proc = subprocess.Popen(
                    argv,
                    cwd=REPO,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            stack._processes.append((name, proc))
        _wait_ready(stack, stack._processes)
        yield stack
    finally:
        stack.stop()
        if temp_dir is not None:
            shutil.rmtree(temp_dir, ignore_errors=True)


def _env_port(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise StackError(f"{name} must be a port number, got {raw!r}")
    return int(raw)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Serve the built docs and the demo OpenID provider on loopback (PORT and IDP_PORT choose the ports)."
    )
    parser.add_argument("--root", type=Path, default=Path("_build/html"), help="site directory")
    args = parser.parse_args(argv)

    env = os.environ
    try:
        port = _env_port("PORT", 8000)
        idp_port = _env_port("IDP_PORT", 9400)
        accounts = Path(env["DEMO_IDP_ACCOUNTS"]) if env.get("DEMO_IDP_ACCOUNTS") else None
        passed_on = {
            k: v
            for k, v in env.items()
            if k.startswith(_CONTROLLED_PREFIX) and k not in ("DEMO_IDP_ACCOUNTS", "DEMO_IDP_TEST_CONTROLS")
        }
        accounts_list = describe_accounts(accounts or DEFAULT_ACCOUNTS)
        if not args.root.is_dir():
            raise StackError(f"{args.root} is not a directory: build the site first")
        signal.signal(signal.SIGTERM, _interrupt)
        with running_stack(
            args.root,
            port=port,
            idp_port=idp_port,
            accounts=accounts,
            test_controls=env.get("DEMO_IDP_TEST_CONTROLS") == "1",
            extra_env=passed_on,
            csp_override=env.get("ACCESS_CHECKER_CSP_OVERRIDE"),
        ) as stack:
            width = max(len(login) for login, _ in accounts_list)
            print(f"site:                 {stack.site_url}/")
            print(f"access levels page:   {stack.site_url}{ACCESS_PAGE}")
            print(f"demo OpenID provider: {stack.idp_url}")
            print(f"logs:                 {stack.site_log.parent}")
            print("demo accounts (any password works):")
            for login, description in accounts_list:
                print(f"  {login:<{width}}  {description}")
            print("Ctrl-C stops both.", flush=True)
            while stack.alive():
                time.sleep(0.5)
            print(f"a server stopped unexpectedly\n{stack.logs()}", file=sys.stderr)
            return 1
    except StackError as exc:
        print(f"stack.py: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("stopped", flush=True)
        return 0


if __name__ == "__main__":
    sys.exit(main())
