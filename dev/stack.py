"""Run the local stack: the built site and the demo OpenID provider, both on loopback.

``python dev/stack.py [--root _build/html]`` serves the site at http://127.0.0.1:$PORT
(default 8000) and the provider at http://127.0.0.1:$IDP_PORT (default 9400) until
Ctrl-C. ``DEMO_IDP_*`` variables and ``ACCESS_CHECKER_CSP_OVERRIDE`` are passed on.

The provider's redirect URIs are the pages the build names in ``<root>/_access_checker/oidc.json``
(``{"redirect_page": ..., "post_logout_page": ...}``, relative to the site root), so that an
html build and a dirhtml build both sign in on their own page.

Tests use :func:`running_stack` and :func:`dev.processes.free_port`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from urllib.parse import urlsplit

if not __package__:
    # Run as a script (`python dev/stack.py`, as the Makefile does): make `dev` importable.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dev.processes import HOST, REPO, NotServingError, free_port, start, stop, tail, wait_until_serving

__all__ = ["Stack", "StackError", "free_port", "running_stack"]

PROVIDER_SCRIPT = REPO / "dev" / "idp" / "provider.mjs"
SERVER_SCRIPT = REPO / "dev" / "serve.py"
DEFAULT_ACCOUNTS = REPO / "dev" / "idp" / "accounts.json"
PACKAGE_JSON = REPO / "package.json"
OIDC_PROVIDER_PACKAGE = REPO / "node_modules" / "oidc-provider" / "package.json"
OIDC_FILE = Path("_access_checker") / "oidc.json"
IDP_READY_LINE = "demo OpenID provider ready at "
SITE_READY_LINE = "serving "

# Variables that decide what the children do. running_stack sets them from its
# arguments only, so a developer's shell cannot change what a test runs against.
_CONTROLLED_ENV = ("ISSUER_ORIGIN", "ACCESS_CHECKER_CSP_OVERRIDE", "PORT", "IDP_PORT")
_CONTROLLED_PREFIX = "DEMO_IDP_"


class StackError(RuntimeError):
    """The stack could not start (missing tool, old build, port in use, child crashed...)."""


@dataclass
class Stack:
    site_url: str
    idp_url: str
    redirect_uris: tuple[str, ...]
    site_log: Path
    idp_log: Path
    _processes: list[subprocess.Popen[bytes]] = field(default_factory=list, repr=False)

    @property
    def redirect_uri(self) -> str:
        return self.redirect_uris[0]

    def alive(self) -> bool:
        return bool(self._processes) and all(p.poll() is None for p in self._processes)

    def stop(self) -> None:
        """Terminate both children: SIGTERM, then SIGKILL after a grace period."""
        for proc in self._processes:
            if proc.poll() is None:
                proc.terminate()
        for proc in self._processes:
            stop(proc)

    def logs(self, lines: int = 30) -> str:
        return "\n".join(f"--- last lines of {path}:\n{tail(path, lines)}" for path in (self.idp_log, self.site_log))


def min_node_major() -> int:
    """The Node.js major version package.json's ``engines.node`` (``>=N``) asks for."""
    try:
        wanted = json.loads(PACKAGE_JSON.read_text(encoding="utf-8"))["engines"]["node"]
        match = re.fullmatch(r">=\s*v?(\d+)(\.\d+)*", wanted.strip())
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise StackError(f"{PACKAGE_JSON}: cannot read engines.node: {exc!r}") from exc
    if match is None:
        raise StackError(f'{PACKAGE_JSON}: engines.node must read ">=N", got {wanted!r}')
    return int(match.group(1))


def find_node() -> str:
    """The node executable, checked to be new enough; raises StackError otherwise."""
    minimum = min_node_major()
    node = shutil.which("node")
    if node is None:
        raise StackError(f"node not found on PATH: the demo OpenID provider needs Node.js {minimum} or later")
    try:
        out = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        raise StackError(f"cannot run {node} --version: {exc}") from exc
    match = re.match(r"v(\d+)\.", out)
    if match is None or int(match.group(1)) < minimum:
        raise StackError(f"{node} is {out or 'of unknown version'}; need v{minimum}+")
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


def sign_in_pages(root: Path) -> tuple[str, str]:
    """(redirect page, post-logout page) from the build's oidc.json, relative to the site root."""
    path = root / OIDC_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StackError(
            f"{path} is missing: {root} was built before the build wrote the sign-in pages; "
            "rebuild the site (make serve rebuilds it)"
        ) from None
    except (OSError, ValueError) as exc:
        raise StackError(f"cannot read {path}: {exc}; rebuild the site") from exc
    pages: list[str] = []
    for key in ("redirect_page", "post_logout_page"):
        value = data.get(key) if isinstance(data, dict) else None
        if not isinstance(value, str) or value.startswith("/") or urlsplit(value).scheme or urlsplit(value).netloc:
            raise StackError(f"{path}: {key} must be a page path relative to the site root, got {value!r}")
        pages.append(value)
    return pages[0], pages[1]


def _base_env() -> dict[str, str]:
    return {
        name: value for name, value in os.environ.items() if name not in _CONTROLLED_ENV and not name.startswith(_CONTROLLED_PREFIX)
    }


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
    redirect_page, post_logout_page = sign_in_pages(root)
    accounts_file = Path(accounts).resolve() if accounts is not None else DEFAULT_ACCOUNTS

    temp_dir: str | None = None
    if log_dir is None:
        temp_dir = tempfile.mkdtemp(prefix="ai4os-stack-")
        log_dir = Path(temp_dir)
    log_dir.mkdir(parents=True, exist_ok=True)

    site_url = f"http://{HOST}:{port}"
    idp_url = f"http://{HOST}:{idp_port}"
    base = _base_env()
    idp_env = {
        **base,
        "IDP_PORT": str(idp_port),
        "DEMO_IDP_ACCOUNTS": str(accounts_file),
        "DEMO_IDP_REDIRECT_URIS": f"{site_url}/{redirect_page}",
        "DEMO_IDP_POST_LOGOUT_URIS": f"{site_url}/{post_logout_page}",
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
    site_argv = [sys.executable, str(SERVER_SCRIPT), "--root", str(root), "--port", str(port)]
    try:
        # Both start before either is waited on, so their start-up times overlap.
        idp = start([node, str(PROVIDER_SCRIPT)], log=stack.idp_log, env=idp_env)
        stack._processes.append(idp)
        site = start(site_argv, log=stack.site_log, env=site_env)
        stack._processes.append(site)
        try:
            wait_until_serving(idp, f"{idp_url}/__health", log=stack.idp_log, name="demo OpenID provider",
                               ready_line=IDP_READY_LINE)
            wait_until_serving(site, f"{site_url}/", log=stack.site_log, name="site server",
                               ready_line=SITE_READY_LINE)
        except NotServingError as exc:
            raise StackError(f"{str(exc).splitlines()[0]}\n{stack.logs()}") from None
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
            print(f"access levels page:   {stack.redirect_uri}")
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
