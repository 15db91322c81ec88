"""The demo provider's fault switches (DEMO_IDP_TEST_CONTROLS=1), as the browser tests use them."""

from __future__ import annotations

import http.client
import json
import urllib.error

import pytest

from dev.processes import poll_until
from dev.stack import Stack
from tests.dev.client import fetch, raw_get
from tests.dev.oidc import discovery, exchange, full_sign_in, set_faults, sign_in, userinfo


def test_fault_discovery_issuer(stack: Stack) -> None:
    assert set_faults(stack, {"discovery_issuer": "http://127.0.0.1:1/wrong"}).status == 200
    assert discovery(stack.idp_url)["issuer"] == "http://127.0.0.1:1/wrong"
    assert fetch("DELETE", f"{stack.idp_url}/__test__/faults").status == 200
    assert discovery(stack.idp_url)["issuer"] == stack.idp_url


@pytest.mark.parametrize(("mode", "status", "error"), [("error", 400, "invalid_grant"), ("500", 500, "server_error")])
def test_fault_token(stack: Stack, mode: str, status: int, error: str) -> None:
    authorized = sign_in(stack, "basic-user")
    assert set_faults(stack, {"token": mode}).status == 200
    reply = exchange(stack, authorized.code, authorized.pkce.verifier, origin=stack.site_url)
    assert reply.status == status
    assert reply.json()["error"] == error
    # Readable by the page: a CORS-less error would look like a network failure instead.
    assert reply.headers["Access-Control-Allow-Origin"] == stack.site_url


@pytest.mark.parametrize("mode", ["500", "malformed", "invalid_token"])
def test_fault_userinfo(stack: Stack, mode: str) -> None:
    signed_in = full_sign_in(stack, "imagine-member")
    assert set_faults(stack, {"userinfo": mode}).status == 200
    reply = userinfo(stack, signed_in.tokens["access_token"], origin=stack.site_url)
    assert reply.headers["Access-Control-Allow-Origin"] == stack.site_url
    if mode == "500":
        assert reply.status == 500
    elif mode == "malformed":
        assert reply.status == 200
        with pytest.raises(json.JSONDecodeError):
            reply.json()
    else:
        assert reply.status == 401
        assert reply.headers["WWW-Authenticate"].startswith("Bearer ")
        assert 'error="invalid_token"' in reply.headers["WWW-Authenticate"]
        assert "WWW-Authenticate" in reply.headers["Access-Control-Expose-Headers"]
        assert reply.json()["error"] == "invalid_token"


def test_fault_access_token_ttl_makes_tokens_expire(stack: Stack) -> None:
    assert set_faults(stack, {"access_token_ttl": 2}).status == 200
    signed_in = full_sign_in(stack, "ai4eosc-member")
    assert signed_in.tokens["expires_in"] == 2
    assert signed_in.id_claims["exp"] - signed_in.id_claims["iat"] == 2
    token = signed_in.tokens["access_token"]
    assert userinfo(stack, token).status == 200
    # Refused once its two seconds are over, and well before the default hour.
    poll_until(lambda: userinfo(stack, token).status == 401, timeout=10, what="the 2 s token refused")
    expired = userinfo(stack, token)
    assert 'error="invalid_token"' in expired.headers["WWW-Authenticate"]

    assert fetch("DELETE", f"{stack.idp_url}/__test__/faults").status == 200
    assert full_sign_in(stack, "ai4eosc-member").tokens["expires_in"] == 3600


def test_fault_down_resets_connections_but_not_health(stack: Stack) -> None:
    assert set_faults(stack, {"down": True}).status == 200
    for path in ("/.well-known/openid-configuration", "/auth", "/jwks", "/me"):
        with pytest.raises((ConnectionError, http.client.HTTPException, urllib.error.URLError)):
            raw_get(stack.idp_url + path)
    assert fetch("GET", f"{stack.idp_url}/__health").status == 200
    assert fetch("DELETE", f"{stack.idp_url}/__test__/faults").status == 200
    assert discovery(stack.idp_url)["issuer"] == stack.idp_url


def test_fault_controls_validate_and_report_state(stack: Stack) -> None:
    bad = set_faults(stack, {"userinfo": "sometimes"})
    assert bad.status == 400
    assert "userinfo" in bad.json()["error"]
    assert set_faults(stack, {"nonsense": 1}).status == 400
    assert set_faults(stack, {"access_token_ttl": -5}).status == 400
    broken = fetch("PUT", f"{stack.idp_url}/__test__/faults", data=b"{not json", headers={"Content-Type": "application/json"})
    assert broken.status == 400

    # PUT replaces the whole set; GET reports it; DELETE clears it.
    assert set_faults(stack, {"token": "500"}).status == 200
    assert set_faults(stack, {"userinfo": "500", "down": False}).json()["faults"] == {"userinfo": "500", "down": False}
    assert fetch("GET", f"{stack.idp_url}/__test__/faults").json()["faults"] == {"userinfo": "500", "down": False}
    assert fetch("DELETE", f"{stack.idp_url}/__test__/faults").json()["faults"] == {}
