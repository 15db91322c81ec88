"""The demo OpenID provider (dev/idp/provider.mjs): discovery, sign-in, claims, CORS, sign-out."""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.parse
from pathlib import Path

import pytest

from dev import stack as stack_mod
from dev.processes import REPO
from dev.stack import Stack, free_port, running_stack
from tests.dev.client import Client, fetch, parse_page
from tests.dev.oidc import (
    CLIENT_ID,
    Pkce,
    absolute,
    authorization_url,
    discovery,
    exchange,
    follow_to,
    full_sign_in,
    open_login_form,
    pkce_authorization_url,
    sign_in,
    submit_login,
    userinfo,
)

ACCOUNTS_FILE = REPO / "dev" / "idp" / "accounts.json"
PROVIDER = REPO / "dev" / "idp" / "provider.mjs"
IMAGINE_MEMBER = "urn:mace:egi.eu:group:vo.imagine-ai.eu:role=member#aai.egi.eu"
AI4LIFE_MEMBER = "urn:mace:egi.eu:group:vo.ai4life.eu:role=member#aai.egi.eu"


def run_provider(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """provider.mjs run to its end (for a configuration it refuses): exit status and output."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("DEMO_IDP_")}
    return subprocess.run([stack_mod.find_node(), str(PROVIDER)], env={**base, "IDP_PORT": str(free_port()), **env},
                          capture_output=True, text=True, timeout=30, check=False)


def test_node_and_pinned_oidc_provider_are_installed() -> None:
    node = stack_mod.find_node()  # raises (the test fails) without a new enough Node or npm ci
    assert Path(node).exists()
    package = json.loads((REPO / "node_modules" / "oidc-provider" / "package.json").read_text())
    assert package["version"] == "9.13.3"
    declared = json.loads((REPO / "package.json").read_text())
    assert declared["devDependencies"]["oidc-provider"] == "9.13.3"


def test_discovery_advertises_exact_issuer_and_code_flow_with_pkce(stack: Stack) -> None:
    config = discovery(stack.idp_url)
    assert config["issuer"] == stack.idp_url
    assert not config["issuer"].endswith("/")
    assert config["code_challenge_methods_supported"] == ["S256"]
    assert config["response_types_supported"] == ["code"]
    assert config["grant_types_supported"] == ["authorization_code"]
    assert config["authorization_response_iss_parameter_supported"] is True
    assert "offline_access" not in config["scopes_supported"]
    for endpoint in ("end_session_endpoint", "userinfo_endpoint", "token_endpoint", "jwks_uri"):
        assert config[endpoint].startswith(f"{stack.idp_url}/"), endpoint


def test_health_endpoint_answers_ok(stack: Stack) -> None:
    reply = fetch("GET", f"{stack.idp_url}/__health")
    assert (reply.status, reply.text) == (200, "ok")


def test_jwks_publishes_only_public_signing_keys(stack: Stack) -> None:
    keys = fetch("GET", f"{stack.idp_url}/jwks").json()["keys"]
    assert keys
    for key in keys:
        assert key["kty"] == "RSA"
        assert not {"d", "p", "q", "dp", "dq", "qi"} & key.keys()


def test_sign_in_form_has_login_password_and_a_submit_button(stack: Stack) -> None:
    form_url, form = open_login_form(Client(), stack.idp_url, pkce_authorization_url(stack))
    assert form.method == "post"
    assert absolute(form_url, form.action) == form_url + "/login"
    assert form.inputs["login"]["type"] == "text"
    assert form.inputs["password"]["type"] == "password"
    assert any(b.get("type") == "submit" for b in form.buttons)


def test_sign_in_form_fills_in_the_login_hint(stack: Stack) -> None:
    _, form = open_login_form(Client(), stack.idp_url, pkce_authorization_url(stack, login_hint="developer"))
    assert form.inputs["login"]["value"] == "developer"


def test_keycloak_style_account_has_realm_roles_in_id_token_and_userinfo(stack: Stack) -> None:
    signed_in = full_sign_in(stack, "ai4eosc-member")
    authorized, tokens, claims = signed_in.authorized, signed_in.tokens, signed_in.id_claims
    assert authorized.iss == stack.idp_url
    assert authorized.state and authorized.code
    assert tokens["token_type"].lower() == "bearer"
    assert "refresh_token" not in tokens
    assert claims["iss"] == stack.idp_url
    assert claims["aud"] == CLIENT_ID
    assert claims["nonce"] == authorized.nonce
    assert claims["exp"] > time.time()
    assert "access:vo.ai4eosc.eu:ap-u" in claims["realm_access"]["roles"]
    assert claims["email"] == "marta.silva@example.org"
    assert "eduperson_entitlement" not in claims
    assert "_description" not in claims

    info = userinfo(stack, tokens["access_token"])
    assert info.status == 200, info.text
    data = info.json()
    assert data["sub"] == claims["sub"]
    assert "access:vo.ai4eosc.eu:ap-u" in data["realm_access"]["roles"]
    assert "_description" not in data


def test_egi_style_account_gets_entitlements_from_userinfo_only(stack: Stack) -> None:
    signed_in = full_sign_in(stack, "imagine-member")
    assert "eduperson_entitlement" not in signed_in.id_claims
    assert "realm_access" not in signed_in.id_claims
    assert signed_in.id_claims["sub"].endswith("@egi.eu")

    data = userinfo(stack, signed_in.tokens["access_token"]).json()
    assert data["eduperson_entitlement"] == [IMAGINE_MEMBER]
    assert data["sub"] == signed_in.id_claims["sub"]
    assert "realm_access" not in data


def test_multi_project_account_mixes_roles_and_entitlements(stack: Stack) -> None:
    signed_in = full_sign_in(stack, "multi-project")
    roles = signed_in.id_claims["realm_access"]["roles"]
    assert {"access:vo.imagine-ai.eu:ap-u", "access:vo.ai4eosc.eu:ap-0"} <= set(roles)
    assert "eduperson_entitlement" not in signed_in.id_claims
    data = userinfo(stack, signed_in.tokens["access_token"]).json()
    assert data["eduperson_entitlement"] == [AI4LIFE_MEMBER]


def test_realm_roles_arrive_with_the_openid_scope_alone(stack: Stack) -> None:
    # As with the AI4OS Keycloak, whose "roles" client scope is a default scope.
    signed_in = full_sign_in(stack, "developer", scope="openid")
    assert "access:vo.ai4eosc.eu:ap-d" in signed_in.id_claims["realm_access"]["roles"]
    assert "email" not in signed_in.id_claims


@pytest.mark.parametrize("login", list(json.loads(ACCOUNTS_FILE.read_text())))
def test_every_default_account_signs_in_with_its_claims(stack: Stack, login: str) -> None:
    expected = json.loads(ACCOUNTS_FILE.read_text())[login]
    signed_in = full_sign_in(stack, login)
    data = userinfo(stack, signed_in.tokens["access_token"]).json()
    assert signed_in.id_claims["sub"] == data["sub"] == expected["sub"]
    for claim in ("name", "email", "email_verified", "realm_access", "eduperson_entitlement"):
        assert data.get(claim) == expected.get(claim), claim
    assert not [k for k in data if k.startswith("_")]


def test_default_accounts_cover_the_contract() -> None:
    accounts = json.loads(ACCOUNTS_FILE.read_text())
    required = {
        "basic-user": "access:vo.ai4eosc.eu:ap-0",
        "edugain-user": "access:vo.ai4eosc.eu:ap-a",
        "ai4eosc-member": "access:vo.ai4eosc.eu:ap-u",
        "developer": "access:vo.ai4eosc.eu:ap-d",
        "legacy-roles": "platform-access:vo.ai4life.eu",
    }
    for login, role in required.items():
        assert role in accounts[login]["realm_access"]["roles"], login
        assert accounts[login]["_description"], login
    assert accounts["imagine-member"]["eduperson_entitlement"] == [IMAGINE_MEMBER]
    assert "realm_access" not in accounts["imagine-member"]


def test_unknown_login_is_refused_with_a_message_and_the_form_again(stack: Stack) -> None:
    client = Client()
    form_url, form = open_login_form(client, stack.idp_url, pkce_authorization_url(stack, state="st"))
    reply = submit_login(client, form_url, form, "nobody-here")
    assert reply.status == 400
    assert "no demo account called" in reply.text
    assert "nobody-here" in reply.text
    assert "basic-user" in reply.text  # the page lists the accounts that exist
    again = parse_page(reply.text).forms
    assert len(again) == 1 and {"login", "password"} <= again[0].inputs.keys()
    assert again[0].inputs["login"]["value"] == "nobody-here"

    # The same sign-in can go on with a real account.
    reply = submit_login(client, form_url, again[0], "basic-user")
    url, _ = follow_to(client, reply, form_url, stack.redirect_uri)
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
    assert query["state"] == "st" and query["code"]


def test_a_sign_in_without_its_interaction_cookie_gets_an_error_page(stack: Stack) -> None:
    client = Client()
    form_url, form = open_login_form(client, stack.idp_url, pkce_authorization_url(stack))
    # Another browser (no cookie) posting to the same form: refused, with a page that says why.
    reply = submit_login(Client(), form_url, form, "basic-user")
    assert reply.status == 400
    assert "invalid_request" in reply.text and "cookie" in reply.text
    assert fetch("GET", form_url).status == 400
    # The real browser's sign-in is unaffected.
    reply = submit_login(client, form_url, form, "basic-user")
    follow_to(client, reply, form_url, stack.redirect_uri)


def test_code_replay_is_rejected(stack: Stack) -> None:
    authorized = sign_in(stack, "basic-user")
    first = exchange(stack, authorized.code, authorized.pkce.verifier)
    assert first.status == 200
    replay = exchange(stack, authorized.code, authorized.pkce.verifier)
    assert replay.status == 400
    assert replay.json()["error"] == "invalid_grant"


def test_missing_or_wrong_code_verifier_is_rejected(stack: Stack) -> None:
    authorized = sign_in(stack, "basic-user")
    missing = exchange(stack, authorized.code, None)
    assert missing.status == 400
    assert missing.json()["error"] == "invalid_grant"

    authorized = sign_in(stack, "basic-user")
    wrong = exchange(stack, authorized.code, Pkce.new().verifier)
    assert wrong.status == 400
    assert wrong.json()["error"] == "invalid_grant"


def test_authorization_request_without_pkce_is_refused(stack: Stack) -> None:
    url = authorization_url(stack.idp_url, stack.redirect_uri, state="x", nonce="y")
    reply = Client().get(url)
    assert reply.status in (302, 303)
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(reply.location).query))
    assert reply.location.startswith(stack.redirect_uri)
    assert query["error"] == "invalid_request"
    assert "PKCE" in query["error_description"]


def test_unregistered_redirect_uri_gets_an_error_page_not_a_redirect(stack: Stack) -> None:
    url = authorization_url(
        stack.idp_url,
        "http://127.0.0.1:1/elsewhere.html",
        state="x",
        nonce="y",
        code_challenge=Pkce.new().challenge,
        code_challenge_method="S256",
    )
    reply = Client().get(url)
    assert reply.status == 400
    assert "redirect_uri" in reply.text
    assert "fonts.googleapis.com" not in reply.text


def test_cors_allows_the_site_origin_only(stack: Stack) -> None:
    origin = stack.site_url
    authorized = sign_in(stack, "basic-user")
    reply = exchange(stack, authorized.code, authorized.pkce.verifier, origin=origin)
    assert reply.status == 200
    assert reply.headers["Access-Control-Allow-Origin"] == origin
    info = userinfo(stack, reply.json()["access_token"], origin=origin)
    assert info.status == 200
    assert info.headers["Access-Control-Allow-Origin"] == origin

    preflight = fetch(
        "OPTIONS",
        f"{stack.idp_url}/me",
        headers={"Origin": origin, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"},
    )
    assert preflight.status == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == origin

    authorized = sign_in(stack, "basic-user")
    foreign = exchange(stack, authorized.code, authorized.pkce.verifier, origin="http://evil.example")
    assert foreign.status == 400
    assert "Access-Control-Allow-Origin" not in foreign.headers

    # Discovery and keys are public documents.
    for path in ("/.well-known/openid-configuration", "/jwks"):
        public = fetch("GET", stack.idp_url + path, headers={"Origin": "http://evil.example"})
        assert public.headers["Access-Control-Allow-Origin"] == "http://evil.example"


def test_session_is_reused_until_rp_initiated_logout_without_a_question(stack: Stack) -> None:
    signed_in = full_sign_in(stack, "developer")
    client = signed_in.authorized.client
    config = discovery(stack.idp_url)

    # Still signed in at the provider: a new request comes straight back with a code.
    again = client.get(pkce_authorization_url(stack, state="s2", nonce="n2"))
    assert again.location.startswith(stack.redirect_uri), again.location

    logout_url = config["end_session_endpoint"] + "?" + urllib.parse.urlencode(
        {"id_token_hint": signed_in.tokens["id_token"], "post_logout_redirect_uri": stack.redirect_uri, "state": "bye"}
    )
    page = client.get(logout_url)
    assert page.status == 200
    parsed = parse_page(page.text)
    (form,) = parsed.forms
    assert form.inputs["logout"]["value"] == "yes"  # submitted as is, no question
    assert parsed.scripts == 1  # the script that submits it
    assert "fonts.googleapis.com" not in page.text
    data = {name: attrs.get("value", "") for name, attrs in form.inputs.items()}
    done = client.post(absolute(logout_url, form.action), data)
    assert done.status in (302, 303)
    assert done.location == f"{stack.redirect_uri}?state=bye"

    # Signed out: the next request shows the sign-in form again.
    _, form = open_login_form(client, stack.idp_url, pkce_authorization_url(stack, state="s3", nonce="n3"))
    assert "login" in form.inputs


def test_without_test_controls_there_are_no_fault_endpoints_and_accounts_are_replaceable(
    tmp_path: Path, site_root: Path
) -> None:
    accounts = tmp_path / "accounts.json"
    accounts.write_text(
        json.dumps(
            {
                "tester": {
                    "_description": "custom account",
                    "sub": "tester-sub-1",
                    "name": "Test Person",
                    "email": "tester@example.org",
                    "email_verified": True,
                    "realm_access": {"roles": ["access:vo.ai4life.eu:ap-u"]},
                }
            }
        )
    )
    with running_stack(
        site_root,
        port=free_port(),
        idp_port=free_port(),
        accounts=accounts,
        extra_env={"DEMO_IDP_ACCESS_TOKEN_TTL": "120"},
    ) as other:
        for method in ("GET", "PUT", "DELETE"):
            reply = fetch(method, f"{other.idp_url}/__test__/faults", data=b"{}")
            assert reply.status == 404, method

        signed_in = full_sign_in(other, "tester")
        assert signed_in.id_claims["sub"] == "tester-sub-1"
        assert signed_in.id_claims["realm_access"] == {"roles": ["access:vo.ai4life.eu:ap-u"]}
        assert signed_in.tokens["expires_in"] == 120

        # The default accounts are gone, not merged.
        client = Client()
        form_url, form = open_login_form(client, other.idp_url, pkce_authorization_url(other))
        assert submit_login(client, form_url, form, "basic-user").status == 400


def test_provider_refuses_a_broken_accounts_file(tmp_path: Path) -> None:
    accounts = tmp_path / "accounts.json"
    accounts.write_text(json.dumps({"no-sub": {"name": "Nobody"}}))
    result = run_provider({"DEMO_IDP_ACCOUNTS": str(accounts), "DEMO_IDP_REDIRECT_URIS": "http://127.0.0.1:1/p.html"})
    assert result.returncode == 2
    assert '"no-sub" needs a non-empty string "sub"' in result.stderr


def test_provider_needs_redirect_uris_from_its_environment() -> None:
    result = run_provider({})
    assert result.returncode == 2
    assert "DEMO_IDP_REDIRECT_URIS must list at least one URI" in result.stderr
