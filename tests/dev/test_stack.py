"""The local stack as its users meet it: real processes over HTTP, no mocks.

Covers dev/idp/provider.mjs (the demo OpenID provider), dev/serve.py (the static server
with production headers) and dev/stack.py (which starts both). These tests fail, not
skip, when Node.js or the npm packages are missing: the stack is part of the product's
development contract.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import http.client
import http.cookiejar
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from email.message import Message
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from dev import stack as stack_mod
from dev.stack import Stack, StackError, free_port, running_stack

REPO = Path(__file__).resolve().parents[2]
DEV = REPO / "dev"
ACCOUNTS_FILE = DEV / "idp" / "accounts.json"
CLIENT_ID = "ai4os-docs-demo"
FULL_SCOPE = "openid profile email eduperson_entitlement roles"
IMAGINE_MEMBER = "urn:mace:egi.eu:group:vo.imagine-ai.eu:role=member#aai.egi.eu"
AI4LIFE_MEMBER = "urn:mace:egi.eu:group:vo.ai4life.eu:role=member#aai.egi.eu"
SECURITY_HEADERS = ("Content-Security-Policy", "Referrer-Policy", "X-Content-Type-Options")


# --------------------------------------------------------------------------------------
# HTTP helpers: a tiny cookie-keeping client that never follows redirects by itself.


@dataclass
class Reply:
    status: int
    headers: Message
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def location(self) -> str:
        return self.headers.get("Location", "")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class Client:
    def __init__(self) -> None:
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect()
        )

    def send(
        self,
        method: str,
        url: str,
        data: Mapping[str, str] | bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        body = urllib.parse.urlencode(data).encode() if isinstance(data, Mapping) else data
        req = urllib.request.Request(url, data=body, method=method, headers=dict(headers or {}))
        if isinstance(data, Mapping):
            req.add_header("Content-Type", "application/x-www-form-urlencoded")
        try:
            with self.opener.open(req, timeout=10) as resp:
                return Reply(resp.status, resp.headers, resp.read())
        except urllib.error.HTTPError as exc:
            return Reply(exc.code, exc.headers, exc.read())

    def get(self, url: str, headers: Mapping[str, str] | None = None) -> Reply:
        return self.send("GET", url, headers=headers)

    def post(
        self, url: str, data: Mapping[str, str], headers: Mapping[str, str] | None = None
    ) -> Reply:
        return self.send("POST", url, data, headers)


def fetch(method: str, url: str, **kwargs: Any) -> Reply:
    return Client().send(method, url, **kwargs)


def raw_get(url: str, headers: Mapping[str, str] | None = None, method: str = "GET") -> Reply:
    """A request exactly as given (no path normalisation, no decompression)."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    try:
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        conn.request(method, path, headers=dict(headers or {}))
        resp = conn.getresponse()
        return Reply(resp.status, resp.msg, resp.read())
    finally:
        conn.close()


@dataclass
class Form:
    action: str = ""
    method: str = "get"
    form_id: str = ""
    inputs: dict[str, dict[str, str]] = field(default_factory=dict)
    buttons: list[dict[str, str]] = field(default_factory=list)


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self.scripts = 0
        self._current: Form | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._current = Form(a.get("action", ""), a.get("method", "get").lower(), a.get("id", ""))
            self.forms.append(self._current)
        elif tag == "input" and self._current is not None and "name" in a:
            self._current.inputs[a["name"]] = a
        elif tag == "button":
            target = self._current
            if target is None and a.get("form"):
                target = next((f for f in self.forms if f.form_id == a["form"]), None)
            if target is not None:
                target.buttons.append(a)
        elif tag == "script":
            self.scripts += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._current = None


def parse_page(html: str) -> _FormParser:
    parser = _FormParser()
    parser.feed(html)
    return parser


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jwt_payload(token: str) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads(b64url_decode(token.split(".")[1]))
    return payload


SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")


def verify_rs256(token: str, jwks: Mapping[str, Any]) -> dict[str, Any]:
    """RSASSA-PKCS1-v1_5 / SHA-256 check in plain Python (no crypto package here)."""
    header_b64, payload_b64, signature_b64 = token.split(".")
    header = json.loads(b64url_decode(header_b64))
    assert header["alg"] == "RS256"
    key = next(k for k in jwks["keys"] if k.get("kid") == header["kid"])
    n = int.from_bytes(b64url_decode(key["n"]), "big")
    e = int.from_bytes(b64url_decode(key["e"]), "big")
    size = (n.bit_length() + 7) // 8
    signature = int.from_bytes(b64url_decode(signature_b64), "big")
    decoded = pow(signature, e, n).to_bytes(size, "big")
    digest = hashlib.sha256(f"{header_b64}.{payload_b64}".encode()).digest()
    info = SHA256_DIGEST_INFO + digest
    assert decoded == b"\x00\x01" + b"\xff" * (size - 3 - len(info)) + b"\x00" + info
    return jwt_payload(token)


# --------------------------------------------------------------------------------------
# The OpenID flow, step by step, as the site's JavaScript performs it.


@dataclass
class Pkce:
    verifier: str
    challenge: str

    @classmethod
    def new(cls) -> Pkce:
        verifier = b64url(secrets.token_bytes(32))
        return cls(verifier, b64url(hashlib.sha256(verifier.encode()).digest()))


@dataclass
class Authorized:
    client: Client
    code: str
    state: str
    nonce: str
    iss: str
    pkce: Pkce
    redirect_query: dict[str, str]


def discovery(idp_url: str) -> dict[str, Any]:
    reply = fetch("GET", f"{idp_url}/.well-known/openid-configuration")
    assert reply.status == 200, reply.text
    config: dict[str, Any] = reply.json()
    return config


def authorization_url(idp_url: str, redirect_uri: str, **params: str) -> str:
    query = {
        "client_id": CLIENT_ID,
        "redirect_uri": redirect_uri,
        "response_type": "code",
        "scope": FULL_SCOPE,
        **params,
    }
    return f"{idp_url}/auth?{urllib.parse.urlencode(query)}"


def absolute(base: str, location: str) -> str:
    return urllib.parse.urljoin(base, location)


def follow_to(client: Client, reply: Reply, url: str, stop_prefix: str) -> tuple[str, Reply]:
    """Follow redirects until one points at stop_prefix; every hop must be a redirect."""
    for _ in range(10):
        assert reply.status in (302, 303), f"expected a redirect, got {reply.status}: {reply.text[:500]}"
        url = absolute(url, reply.location)
        if url.startswith(stop_prefix):
            return url, reply
        reply = client.get(url)
    raise AssertionError("too many redirects")


def open_login_form(client: Client, idp_url: str, auth_url: str) -> tuple[str, Form]:
    reply = client.get(auth_url)
    assert reply.status in (302, 303), reply.text[:500]
    form_url = absolute(auth_url, reply.location)
    assert form_url.startswith(f"{idp_url}/interaction/")
    page = client.get(form_url)
    assert page.status == 200
    forms = parse_page(page.text).forms
    assert len(forms) == 1, page.text
    return form_url, forms[0]


def submit_login(client: Client, form_url: str, form: Form, login: str) -> Reply:
    data = {name: attrs.get("value", "") for name, attrs in form.inputs.items()}
    data.update(login=login, password="any password at all")
    return client.post(absolute(form_url, form.action), data)


def sign_in(stack: Stack, login: str, scope: str = FULL_SCOPE) -> Authorized:
    client = Client()
    pkce = Pkce.new()
    state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    auth_url = authorization_url(
        stack.idp_url,
        stack.redirect_uri,
        scope=scope,
        state=state,
        nonce=nonce,
        code_challenge=pkce.challenge,
        code_challenge_method="S256",
    )
    form_url, form = open_login_form(client, stack.idp_url, auth_url)
    reply = submit_login(client, form_url, form, login)
    # Consent is automatic: from the form, only redirects lead back to the site.
    url, _ = follow_to(client, reply, form_url, stack.redirect_uri)
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
    assert "error" not in query, query
    return Authorized(client, query["code"], query["state"], nonce, query["iss"], pkce, query)


def exchange(
    stack: Stack, code: str, verifier: str | None, origin: str | None = None
) -> Reply:
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": stack.redirect_uri,
        "client_id": CLIENT_ID,
    }
    if verifier is not None:
        data["code_verifier"] = verifier
    headers = {"Origin": origin} if origin else {}
    return fetch("POST", f"{stack.idp_url}/token", data=data, headers=headers)


def userinfo(stack: Stack, access_token: str, origin: str | None = None) -> Reply:
    headers = {"Authorization": f"Bearer {access_token}"}
    if origin:
        headers["Origin"] = origin
    return fetch("GET", f"{stack.idp_url}/me", headers=headers)


@dataclass
class SignedIn:
    authorized: Authorized
    tokens: dict[str, Any]
    id_claims: dict[str, Any]


def full_sign_in(stack: Stack, login: str, scope: str = FULL_SCOPE) -> SignedIn:
    authorized = sign_in(stack, login, scope)
    reply = exchange(stack, authorized.code, authorized.pkce.verifier)
    assert reply.status == 200, reply.text
    tokens = reply.json()
    jwks = fetch("GET", f"{stack.idp_url}/jwks").json()
    claims = verify_rs256(tokens["id_token"], jwks)
    return SignedIn(authorized, tokens, claims)


# --------------------------------------------------------------------------------------
# Fixtures


def make_site(root: Path) -> Path:
    (root / "reference").mkdir(parents=True, exist_ok=True)
    (root / "index.html").write_text("<!DOCTYPE html><title>docs</title><p>home</p>\n")
    (root / "reference" / "user-access-levels.html").write_text("<p>access levels</p>\n")
    return root


@pytest.fixture(scope="session")
def site_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_site(tmp_path_factory.mktemp("site"))


@pytest.fixture(scope="session")
def live_stack(site_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(
        site_root,
        port=free_port(),
        idp_port=free_port(),
        test_controls=True,
        log_dir=tmp_path_factory.mktemp("stack-logs"),
    ) as stack:
        yield stack


@pytest.fixture
def stack(live_stack: Stack) -> Iterator[Stack]:
    """The shared stack, with every fault switched off again after each test."""
    yield live_stack
    reply = fetch("DELETE", f"{live_stack.idp_url}/__test__/faults")
    assert reply.status == 200, f"{reply.status} {reply.text}\n{live_stack.logs()}"


def set_faults(stack: Stack, faults: Mapping[str, Any]) -> Reply:
    return fetch(
        "PUT",
        f"{stack.idp_url}/__test__/faults",
        data=json.dumps(faults).encode(),
        headers={"Content-Type": "application/json"},
    )


def site_origin(stack: Stack) -> str:
    return str(stack.site_url)


# --------------------------------------------------------------------------------------
# Tools


def test_node_and_pinned_oidc_provider_are_installed() -> None:
    node = stack_mod.find_node()  # raises (the test fails) without Node 20+ or npm ci
    assert Path(node).exists()
    package = json.loads((REPO / "node_modules" / "oidc-provider" / "package.json").read_text())
    assert package["version"] == "9.13.3"
    declared = json.loads((REPO / "package.json").read_text())
    assert declared["devDependencies"]["oidc-provider"] == "9.13.3"


# --------------------------------------------------------------------------------------
# Demo OpenID provider: discovery and sign-in


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


def test_sign_in_form_is_the_providers_form_with_login_and_password(stack: Stack) -> None:
    auth_url = authorization_url(
        stack.idp_url,
        stack.redirect_uri,
        state="s",
        nonce="n",
        code_challenge=Pkce.new().challenge,
        code_challenge_method="S256",
    )
    _, form = open_login_form(Client(), stack.idp_url, auth_url)
    assert form.method == "post"
    assert form.inputs["login"]["type"] == "text"
    assert form.inputs["password"]["type"] == "password"
    assert any(b.get("type") == "submit" for b in form.buttons)


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


def test_default_accounts_cover_the_contract(stack: Stack) -> None:
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
    pkce = Pkce.new()
    auth_url = authorization_url(
        stack.idp_url,
        stack.redirect_uri,
        state="st",
        nonce="nn",
        code_challenge=pkce.challenge,
        code_challenge_method="S256",
    )
    form_url, form = open_login_form(client, stack.idp_url, auth_url)
    reply = submit_login(client, form_url, form, "nobody-here")
    assert reply.status == 400
    assert "no demo account called" in reply.text
    assert "nobody-here" in reply.text
    assert "basic-user" in reply.text  # the page lists the accounts that exist
    again = parse_page(reply.text).forms
    assert len(again) == 1 and {"login", "password"} <= again[0].inputs.keys()

    # The same sign-in can go on with a real account.
    reply = submit_login(client, form_url, again[0], "basic-user")
    url, _ = follow_to(client, reply, form_url, stack.redirect_uri)
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
    assert query["state"] == "st" and query["code"]


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
    origin = site_origin(stack)
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
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        },
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
    pkce = Pkce.new()
    again = client.get(
        authorization_url(
            stack.idp_url,
            stack.redirect_uri,
            state="s2",
            nonce="n2",
            code_challenge=pkce.challenge,
            code_challenge_method="S256",
        )
    )
    assert again.location.startswith(stack.redirect_uri), again.location

    logout_url = config["end_session_endpoint"] + "?" + urllib.parse.urlencode(
        {
            "id_token_hint": signed_in.tokens["id_token"],
            "post_logout_redirect_uri": stack.redirect_uri,
            "state": "bye",
        }
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
    _, form = open_login_form(
        client,
        stack.idp_url,
        authorization_url(
            stack.idp_url,
            stack.redirect_uri,
            state="s3",
            nonce="n3",
            code_challenge=Pkce.new().challenge,
            code_challenge_method="S256",
        ),
    )
    assert "login" in form.inputs


# --------------------------------------------------------------------------------------
# Demo OpenID provider: fault switches


def test_fault_discovery_issuer(stack: Stack) -> None:
    assert set_faults(stack, {"discovery_issuer": "http://127.0.0.1:1/wrong"}).status == 200
    assert discovery(stack.idp_url)["issuer"] == "http://127.0.0.1:1/wrong"
    assert fetch("DELETE", f"{stack.idp_url}/__test__/faults").status == 200
    assert discovery(stack.idp_url)["issuer"] == stack.idp_url


@pytest.mark.parametrize(
    ("mode", "status", "error"), [("error", 400, "invalid_grant"), ("500", 500, "server_error")]
)
def test_fault_token(stack: Stack, mode: str, status: int, error: str) -> None:
    authorized = sign_in(stack, "basic-user")
    assert set_faults(stack, {"token": mode}).status == 200
    reply = exchange(stack, authorized.code, authorized.pkce.verifier, origin=site_origin(stack))
    assert reply.status == status
    assert reply.json()["error"] == error
    # Readable by the page: a CORS-less error would look like a network failure instead.
    assert reply.headers["Access-Control-Allow-Origin"] == site_origin(stack)


@pytest.mark.parametrize("mode", ["500", "malformed", "invalid_token"])
def test_fault_userinfo(stack: Stack, mode: str) -> None:
    signed_in = full_sign_in(stack, "imagine-member")
    assert set_faults(stack, {"userinfo": mode}).status == 200
    reply = userinfo(stack, signed_in.tokens["access_token"], origin=site_origin(stack))
    assert reply.headers["Access-Control-Allow-Origin"] == site_origin(stack)
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
    assert userinfo(stack, signed_in.tokens["access_token"]).status == 200
    time.sleep(3)
    expired = userinfo(stack, signed_in.tokens["access_token"])
    assert expired.status == 401
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
    broken = fetch(
        "PUT",
        f"{stack.idp_url}/__test__/faults",
        data=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert broken.status == 400

    # PUT replaces the whole set; GET reports it; DELETE clears it.
    assert set_faults(stack, {"token": "500"}).status == 200
    assert set_faults(stack, {"userinfo": "500", "down": False}).json()["faults"] == {
        "userinfo": "500",
        "down": False,
    }
    assert fetch("GET", f"{stack.idp_url}/__test__/faults").json()["faults"] == {
        "userinfo": "500",
        "down": False,
    }
    assert fetch("DELETE", f"{stack.idp_url}/__test__/faults").json()["faults"] == {}


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
        auth_url = authorization_url(
            other.idp_url,
            other.redirect_uri,
            state="s",
            nonce="n",
            code_challenge=Pkce.new().challenge,
            code_challenge_method="S256",
        )
        form_url, form = open_login_form(client, other.idp_url, auth_url)
        assert submit_login(client, form_url, form, "basic-user").status == 400


def test_provider_refuses_a_broken_accounts_file(tmp_path: Path) -> None:
    accounts = tmp_path / "accounts.json"
    accounts.write_text(json.dumps({"no-sub": {"name": "Nobody"}}))
    env = {**os.environ, "IDP_PORT": str(free_port()), "DEMO_IDP_ACCOUNTS": str(accounts)}
    result = subprocess.run(
        [stack_mod.find_node(), str(DEV / "idp" / "provider.mjs")],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert '"no-sub" needs a non-empty string "sub"' in result.stderr


# --------------------------------------------------------------------------------------
# Static server


@dataclass
class Served:
    url: str
    root: Path
    proc: subprocess.Popen[bytes]
    log: Path


def start_server(
    root: Path, log_dir: Path, env: Mapping[str, str] | None = None, *, host: str = "127.0.0.1"
) -> Served:
    port = free_port()
    log = log_dir / f"serve-{port}.log"
    full_env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("ACCESS_CHECKER_CSP_OVERRIDE", "ISSUER_ORIGIN", "PORT")
    }
    full_env.update(env or {})
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, str(DEV / "serve.py"), "--root", str(root), "--port", str(port), "--host", host, "--quiet"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=full_env,
        )
    url = f"http://{host}:{port}"
    deadline = time.monotonic() + 15
    while f"at {url}" not in log.read_text():
        assert proc.poll() is None, log.read_text()
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.05)
    return Served(url, root, proc, log)


def stop_server(served: Served) -> None:
    served.proc.terminate()
    assert served.proc.wait(timeout=10) == 0


SITE_CSP = "default-src 'self'; script-src 'self' 'sha256-abc=' 'wasm-unsafe-eval'"
RUNTIME_PREFIX = "/_static/access-checker/runtime-314/"


def make_static_site(root: Path) -> Path:
    make_site(root)
    runtime = root / RUNTIME_PREFIX.strip("/")
    runtime.mkdir(parents=True)
    (runtime / "pyodide.asm.wasm").write_bytes(b"\0asm\x01\0\0\0" + bytes(4096))
    (runtime / "pyodide.mjs").write_text("export const loadPyodide = () => 1;\n" * 50)
    (runtime / "python_stdlib.zip").write_bytes(b"PK\x05\x06" + bytes(18))
    static = root / "_static"
    (static / "checker.whl").write_bytes(b"PK\x05\x06" + bytes(18))
    (static / "policy.toml").write_text('[levels]\nbasic = "Basic"\n' * 20)
    (static / "data.json").write_text(json.dumps({"k": list(range(200))}))
    (static / "app.js").write_text("console.log('hello');\n" * 50)
    (static / "style.css").write_text("body { color: black; }\n" * 50)
    (root / "_access_checker").mkdir()
    (root / "_access_checker" / "headers.json").write_text(
        json.dumps(
            {
                "headers": {
                    "Content-Security-Policy": SITE_CSP,
                    "Referrer-Policy": "no-referrer",
                    "X-Content-Type-Options": "nosniff",
                },
                "immutable": [RUNTIME_PREFIX],
            }
        )
    )
    return root


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = make_static_site(tmp_path_factory.mktemp("static-site"))
    server = start_server(root, tmp_path_factory.mktemp("serve-logs"))
    yield server
    stop_server(server)


def assert_security_headers(reply: Reply) -> None:
    assert reply.headers["Content-Security-Policy"] == SITE_CSP
    assert reply.headers["Referrer-Policy"] == "no-referrer"
    assert reply.headers["X-Content-Type-Options"] == "nosniff"


def test_serve_security_headers_on_every_kind_of_response(served: Served) -> None:
    ok = raw_get(served.url + "/")
    assert ok.status == 200 and b"home" in ok.body
    missing = raw_get(served.url + "/nope.html")
    assert missing.status == 404
    redirect = raw_get(served.url + "/reference")
    assert redirect.status == 301 and redirect.headers["Location"] == "/reference/"
    not_modified = raw_get(served.url + "/", {"If-None-Match": ok.headers["ETag"]})
    assert not_modified.status == 304
    post = fetch("POST", served.url + "/", data=b"x")
    assert post.status == 405
    for reply in (ok, missing, redirect, not_modified, post):
        assert_security_headers(reply)
        assert reply.headers["Cache-Control"] == "no-cache"


def test_serve_caches_the_runtime_for_a_year_and_revalidates_the_rest(served: Served) -> None:
    runtime = raw_get(served.url + RUNTIME_PREFIX + "pyodide.asm.wasm")
    assert runtime.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    for path in ("/", "/reference/user-access-levels.html", "/_static/policy.toml"):
        assert raw_get(served.url + path).headers["Cache-Control"] == "no-cache", path


def test_serve_conditional_get(served: Served) -> None:
    first = raw_get(served.url + "/_static/data.json")
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    assert raw_get(served.url + "/_static/data.json", {"If-None-Match": etag}).status == 304
    assert raw_get(served.url + "/_static/data.json", {"If-Modified-Since": modified}).status == 304
    assert raw_get(served.url + "/_static/data.json", {"If-None-Match": '"other"'}).status == 200

    target = served.root / "_static" / "data.json"
    target.write_text(json.dumps({"k": "changed"}))
    later = time.time() + 5
    os.utime(target, (later, later))
    changed = raw_get(served.url + "/_static/data.json", {"If-None-Match": etag})
    assert changed.status == 200 and b"changed" in changed.body


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/", "text/html; charset=utf-8"),
        (RUNTIME_PREFIX + "pyodide.asm.wasm", "application/wasm"),
        (RUNTIME_PREFIX + "pyodide.mjs", "text/javascript"),
        (RUNTIME_PREFIX + "python_stdlib.zip", "application/zip"),
        ("/_static/app.js", "text/javascript"),
        ("/_static/checker.whl", "application/zip"),
        ("/_static/data.json", "application/json"),
        ("/_static/style.css", "text/css"),
        ("/_static/policy.toml", "text/plain; charset=utf-8"),
    ],
)
def test_serve_mime_types(served: Served, path: str, content_type: str) -> None:
    assert raw_get(served.url + path).headers["Content-Type"] == content_type


@pytest.mark.parametrize(
    "path", ["/", RUNTIME_PREFIX + "pyodide.mjs", "/_static/style.css", "/_static/policy.toml"]
)
def test_serve_gzips_text_when_asked(served: Served, path: str) -> None:
    plain = raw_get(served.url + path)
    assert "Content-Encoding" not in plain.headers
    assert plain.headers["Vary"] == "Accept-Encoding"
    packed = raw_get(served.url + path, {"Accept-Encoding": "br, gzip, deflate"})
    assert packed.headers["Content-Encoding"] == "gzip"
    assert packed.headers["Vary"] == "Accept-Encoding"
    assert int(packed.headers["Content-Length"]) == len(packed.body)
    assert gzip.decompress(packed.body) == plain.body
    assert packed.headers["ETag"] != plain.headers["ETag"]
    refused = raw_get(served.url + path, {"Accept-Encoding": "gzip;q=0"})
    assert "Content-Encoding" not in refused.headers


def test_serve_gzips_webassembly(served: Served) -> None:
    path = RUNTIME_PREFIX + "pyodide.asm.wasm"
    reply = raw_get(served.url + path, {"Accept-Encoding": "gzip"})
    assert reply.headers["Content-Encoding"] == "gzip"
    assert reply.headers["Content-Type"] == "application/wasm"
    assert gzip.decompress(reply.body) == (served.root / path.lstrip("/")).read_bytes()


@pytest.mark.parametrize("path", [RUNTIME_PREFIX + "python_stdlib.zip", "/_static/checker.whl"])
def test_serve_never_gzips_archives(served: Served, path: str) -> None:
    reply = raw_get(served.url + path, {"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in reply.headers
    assert reply.body == (served.root / path.lstrip("/")).read_bytes()


def test_serve_head_and_directory_index(served: Served) -> None:
    head = raw_get(served.url + "/reference/", method="HEAD")
    assert head.status == 404  # no index.html in reference/, and no listing either
    head = raw_get(served.url + "/", method="HEAD")
    assert head.status == 200 and head.body == b""
    assert int(head.headers["Content-Length"]) == len(raw_get(served.url + "/").body)


def test_serve_stays_inside_its_root(served: Served) -> None:
    for path in ("/../../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/..%2f..%2fetc%2fpasswd"):
        reply = raw_get(served.url + path)
        assert reply.status == 404, path
        assert_security_headers(reply)


def run_serve(*args: str) -> subprocess.CompletedProcess[str]:
    """serve.py run to its end (for arguments it refuses): exit status and output."""
    return subprocess.run([sys.executable, str(DEV / "serve.py"), *args], capture_output=True, text=True,
                          timeout=30, check=False)


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "::", "example.org"])
def test_serve_refuses_non_loopback_hosts(tmp_path: Path, host: str) -> None:
    result = run_serve("--root", str(tmp_path), "--host", host, "--port", str(free_port()))
    assert result.returncode == 2
    assert "non-loopback" in result.stderr


def test_serve_defaults_without_headers_file(tmp_path: Path) -> None:
    root = make_site(tmp_path / "site")
    server = start_server(root, tmp_path, {"ISSUER_ORIGIN": "http://127.0.0.1:9999"})
    try:
        reply = raw_get(server.url + "/nope")
        csp = reply.headers["Content-Security-Policy"]
        assert "script-src 'self' 'wasm-unsafe-eval'" in csp
        assert "connect-src 'self' http://127.0.0.1:9999;" in csp
        assert "frame-ancestors 'none'" in csp
        assert reply.headers["Referrer-Policy"] == "no-referrer"
        assert reply.headers["X-Content-Type-Options"] == "nosniff"
        assert "headers.json not found" in server.log.read_text()
    finally:
        stop_server(server)


def test_serve_csp_override_and_headers_file_reload(tmp_path: Path) -> None:
    root = make_static_site(tmp_path / "site")
    strict = "default-src 'self'; script-src 'self'"
    server = start_server(root, tmp_path, {"ACCESS_CHECKER_CSP_OVERRIDE": strict})
    try:
        reply = raw_get(server.url + "/")
        assert reply.headers["Content-Security-Policy"] == strict
        assert reply.headers["Referrer-Policy"] == "no-referrer"
    finally:
        stop_server(server)

    server = start_server(root, tmp_path)
    try:
        headers_file = root / "_access_checker" / "headers.json"
        config = json.loads(headers_file.read_text())
        config["headers"]["Permissions-Policy"] = "camera=()"
        headers_file.write_text(json.dumps(config))
        later = time.time() + 5
        os.utime(headers_file, (later, later))
        assert raw_get(server.url + "/").headers["Permissions-Policy"] == "camera=()"
    finally:
        stop_server(server)


def test_serve_refuses_a_headers_file_that_would_inject_headers(tmp_path: Path) -> None:
    root = make_site(tmp_path / "site")
    (root / "_access_checker").mkdir()
    (root / "_access_checker" / "headers.json").write_text(
        json.dumps({"headers": {"X-Test": "a\r\nSet-Cookie: x=1"}})
    )
    result = run_serve("--root", str(root), "--port", str(free_port()))
    assert result.returncode == 2
    assert "one-line string" in result.stderr


# --------------------------------------------------------------------------------------
# stack.py


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


def test_running_stack_reports_a_busy_port_with_the_logs(site_root: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(StackError) as info, running_stack(
            site_root, port=port, idp_port=free_port()
        ):
            pass
    assert time.monotonic() - started < 15
    assert "site server exited" in str(info.value)
    assert "cannot listen" in str(info.value)


def test_stack_cli_prints_urls_and_accounts_and_stops_on_ctrl_c(
    site_root: Path, tmp_path: Path
) -> None:
    port, idp_port = free_port(), free_port()
    env = {**os.environ, "PORT": str(port), "IDP_PORT": str(idp_port)}
    out_file = tmp_path / "stack.out"
    with out_file.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, str(DEV / "stack.py"), "--root", str(site_root)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=REPO,
        )
    try:
        deadline = time.monotonic() + 20
        while "Ctrl-C stops both." not in out_file.read_text():
            assert proc.poll() is None, out_file.read_text()
            assert time.monotonic() < deadline, out_file.read_text()
            time.sleep(0.1)
        text = out_file.read_text()
        assert f"http://127.0.0.1:{port}/" in text
        assert f"http://127.0.0.1:{idp_port}" in text
        accounts = json.loads(ACCOUNTS_FILE.read_text())
        lines = text.splitlines()
        for login, claims in accounts.items():
            assert any(
                line.split()[:1] == [login] and claims["_description"] in line for line in lines
            ), login
        assert fetch("GET", f"http://127.0.0.1:{port}/").status == 200
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=15) == 0
    assert not _port_open(port)
    assert not _port_open(idp_port)
