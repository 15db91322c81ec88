"""The OpenID flow against the demo provider, step by step, as the site's JavaScript performs it."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dev.stack import Stack
from tests.dev.client import Client, Form, Reply, fetch, parse_page

CLIENT_ID = "ai4os-docs-demo"
FULL_SCOPE = "openid profile email eduperson_entitlement roles"
SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jwt_payload(token: str) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads(b64url_decode(token.split(".")[1]))
    return payload


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


@dataclass
class SignedIn:
    authorized: Authorized
    tokens: dict[str, Any]
    id_claims: dict[str, Any]


def discovery(idp_url: str) -> dict[str, Any]:
    reply = fetch("GET", f"{idp_url}/.well-known/openid-configuration")
    assert reply.status == 200, reply.text
    config: dict[str, Any] = reply.json()
    return config


def authorization_url(idp_url: str, redirect_uri: str, **params: str) -> str:
    query = {"client_id": CLIENT_ID, "redirect_uri": redirect_uri, "response_type": "code", "scope": FULL_SCOPE, **params}
    return f"{idp_url}/auth?{urllib.parse.urlencode(query)}"


def pkce_authorization_url(stack: Stack, **params: str) -> str:
    """An authorization request as the site sends it (PKCE S256, state and nonce)."""
    defaults = {"state": "s", "nonce": "n", "code_challenge": Pkce.new().challenge, "code_challenge_method": "S256"}
    return authorization_url(stack.idp_url, stack.redirect_uri, **{**defaults, **params})


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
    auth_url = pkce_authorization_url(stack, scope=scope, state=state, nonce=nonce, code_challenge=pkce.challenge)
    form_url, form = open_login_form(client, stack.idp_url, auth_url)
    reply = submit_login(client, form_url, form, login)
    # Consent is automatic: from the form, only redirects lead back to the site.
    url, _ = follow_to(client, reply, form_url, stack.redirect_uri)
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
    assert "error" not in query, query
    return Authorized(client, query["code"], query["state"], nonce, query["iss"], pkce, query)


def exchange(stack: Stack, code: str, verifier: str | None, origin: str | None = None) -> Reply:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": stack.redirect_uri, "client_id": CLIENT_ID}
    if verifier is not None:
        data["code_verifier"] = verifier
    headers = {"Origin": origin} if origin else {}
    return fetch("POST", f"{stack.idp_url}/token", data=data, headers=headers)


def userinfo(stack: Stack, access_token: str, origin: str | None = None) -> Reply:
    headers = {"Authorization": f"Bearer {access_token}"}
    if origin:
        headers["Origin"] = origin
    return fetch("GET", f"{stack.idp_url}/me", headers=headers)


def full_sign_in(stack: Stack, login: str, scope: str = FULL_SCOPE) -> SignedIn:
    authorized = sign_in(stack, login, scope)
    reply = exchange(stack, authorized.code, authorized.pkce.verifier)
    assert reply.status == 200, reply.text
    tokens = reply.json()
    jwks = fetch("GET", f"{stack.idp_url}/jwks").json()
    claims = verify_rs256(tokens["id_token"], jwks)
    return SignedIn(authorized, tokens, claims)


def set_faults(stack: Stack, faults: Mapping[str, Any]) -> Reply:
    """Switch the provider's test faults (PUT replaces the whole set)."""
    data = json.dumps(faults).encode()
    return fetch("PUT", f"{stack.idp_url}/__test__/faults", data=data, headers={"Content-Type": "application/json"})
