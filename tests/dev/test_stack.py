"""dev/stack.py (the provider and the site server together) and the helper that waits for them."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dev import stack as stack_mod
from dev.processes import REPO, NotServingError, free_port, poll_until, start, stop, wait_until_serving
from dev.stack import StackError, running_stack
from tests.dev.client import fetch, make_site
from tests.dev.oidc import discovery, full_sign_in

ACCOUNTS_FILE = REPO / "dev" / "idp" / "accounts.json"


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_running_stack_serves_both_and_stops_them(site_root: Path) -> None:
    port, idp_port = free_port(), free_port()
    with running_stack(site_root, port=port, idp_port=idp_port) as started:
        assert started.site_url == f"http://127.0.0.1:{port}"
        assert started.idp_url == f"http://127.0.0.1:{idp_port}"
        assert started.redirect_uri == f"{started.site_url}/reference/user-access-levels.html"
        page = fetch("GET", started.redirect_uri)
        assert page.status == 200 and b"access levels" in page.body
        # The site's CSP lets the page talk to this provider.
        assert f"connect-src 'self' {started.idp_url};" in page.headers["Content-Security-Policy"]
        assert discovery(started.idp_url)["issuer"] == started.idp_url
        assert fetch("PUT", f"{started.idp_url}/__test__/faults", data=b"{}").status == 404
        assert "demo OpenID provider ready" in started.idp_log.read_text()
    assert not _port_open(port)
    assert not _port_open(idp_port)


def test_a_dirhtml_build_signs_in_on_its_own_page(tmp_path: Path) -> None:
    root = make_site(tmp_path / "site", redirect_page="reference/user-access-levels/")
    with running_stack(root, port=free_port(), idp_port=free_port()) as started:
        assert started.redirect_uri == f"{started.site_url}/reference/user-access-levels/"
        assert b"access levels" in fetch("GET", started.redirect_uri).body
        signed_in = full_sign_in(started, "basic-user")  # the provider accepts that page only
        assert signed_in.authorized.redirect_query["iss"] == started.idp_url


def test_an_old_build_without_oidc_json_is_refused_with_what_to_do(tmp_path: Path) -> None:
    root = make_site(tmp_path / "site")
    (root / "_access_checker" / "oidc.json").unlink()
    with pytest.raises(StackError, match=r"oidc\.json is missing.*rebuild the site"), \
            running_stack(root, port=free_port(), idp_port=free_port()):
        pass


def test_oidc_json_must_name_pages_of_the_site(tmp_path: Path) -> None:
    root = make_site(tmp_path / "site")
    oidc = root / "_access_checker" / "oidc.json"
    for page in ("https://elsewhere.example/p.html", "/reference/p.html", None):
        oidc.write_text(json.dumps({"redirect_page": "p.html", "post_logout_page": page}))
        with pytest.raises(StackError, match="post_logout_page must be a page path relative to the site root"), \
                running_stack(root, port=free_port(), idp_port=free_port()):
            pass


def test_the_node_minimum_comes_from_package_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    declared = json.loads((REPO / "package.json").read_text())
    assert declared["engines"]["node"] == f">={stack_mod.min_node_major()}"
    demanding = tmp_path / "package.json"
    demanding.write_text(json.dumps({**declared, "engines": {"node": ">=999"}}))
    monkeypatch.setattr(stack_mod, "PACKAGE_JSON", demanding)
    with pytest.raises(StackError, match=r"need v999\+"):
        stack_mod.find_node()


def test_running_stack_reports_a_busy_port_with_the_logs(site_root: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(StackError) as info, running_stack(site_root, port=port, idp_port=free_port()):
            pass
    assert time.monotonic() - started < 15
    assert "site server exited" in str(info.value)
    assert "cannot listen" in str(info.value)


def test_wait_until_serving_needs_the_ready_line_not_just_an_answer(site_root: Path, tmp_path: Path) -> None:
    # Something else already answers on the port (a stale server): a process that never says
    # it is ready is not taken for ready, however well the port answers.
    port = free_port()
    log = tmp_path / "serve.log"
    argv = [sys.executable, str(REPO / "dev" / "serve.py"), "--root", str(site_root), "--port", str(port)]
    other = start(argv, log=log, env=os.environ)
    try:
        wait_until_serving(other, f"http://127.0.0.1:{port}/", log=log, name="first")
        quiet = start([sys.executable, "-c", "import time; time.sleep(30)"], log=tmp_path / "quiet.log", env=os.environ)
        try:
            with pytest.raises(NotServingError, match=r"quiet serving .*: not after 1 s"):
                wait_until_serving(quiet, f"http://127.0.0.1:{port}/", log=tmp_path / "quiet.log", name="quiet",
                                   ready_line="serving ", timeout=1)
        finally:
            stop(quiet)
    finally:
        stop(other)


def test_wait_until_serving_stops_waiting_when_the_process_exits(tmp_path: Path) -> None:
    log = tmp_path / "crash.log"
    proc = start([sys.executable, "-c", "print('boom'); raise SystemExit(3)"], log=log, env=os.environ)
    started = time.monotonic()
    with pytest.raises(NotServingError, match=r"(?s)crasher exited with code 3.*boom"):
        wait_until_serving(proc, f"http://127.0.0.1:{free_port()}/", log=log, name="crasher", timeout=30)
    assert time.monotonic() - started < 10


def test_stack_cli_prints_urls_and_accounts_and_stops_on_ctrl_c(site_root: Path, tmp_path: Path) -> None:
    port, idp_port = free_port(), free_port()
    env = {**os.environ, "PORT": str(port), "IDP_PORT": str(idp_port)}
    out_file = tmp_path / "stack.out"
    proc = start([sys.executable, str(REPO / "dev" / "stack.py"), "--root", str(site_root)], log=out_file, env=env)
    try:
        wait_until_serving(proc, f"http://127.0.0.1:{port}/", log=out_file, name="stack.py",
                           ready_line="Ctrl-C stops both.", timeout=30)
        text = out_file.read_text()
        assert f"http://127.0.0.1:{port}/" in text
        assert f"access levels page:   http://127.0.0.1:{port}/reference/user-access-levels.html" in text
        assert f"http://127.0.0.1:{idp_port}" in text
        accounts = json.loads(ACCOUNTS_FILE.read_text())
        lines = text.splitlines()
        for login, claims in accounts.items():
            assert any(line.split()[:1] == [login] and claims["_description"] in line for line in lines), login
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=15) == 0
    assert not _port_open(port)
    assert not _port_open(idp_port)


def test_stack_cli_says_to_rebuild_an_old_build(tmp_path: Path) -> None:
    root = make_site(tmp_path / "site")
    (root / "_access_checker" / "oidc.json").unlink()
    env = {**os.environ, "PORT": str(free_port()), "IDP_PORT": str(free_port())}
    result = subprocess.run([sys.executable, str(REPO / "dev" / "stack.py"), "--root", str(root)], env=env,
                            capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 1
    assert "rebuild the site" in result.stderr


def test_poll_until_returns_as_soon_as_the_condition_holds() -> None:
    calls: list[float] = []
    poll_until(lambda: calls.append(time.monotonic()) or len(calls) == 3, timeout=5, what="third call")
    assert len(calls) == 3
    with pytest.raises(TimeoutError, match=r"never: not after 0\.2 s"):
        poll_until(lambda: False, timeout=0.2, what="never")
