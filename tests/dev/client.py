"""HTTP for the stack tests: a cookie-keeping client that never follows redirects by itself,
raw requests, an HTML form reader, and the small sites the tests serve."""

from __future__ import annotations

import http.client
import http.cookiejar
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import Message
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

# The page the demo provider sends readers back to, as the build's oidc.json names it.
ACCESS_PAGE = "reference/user-access-levels.html"


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
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect())

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

    def post(self, url: str, data: Mapping[str, str], headers: Mapping[str, str] | None = None) -> Reply:
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


def make_site(root: Path, redirect_page: str = ACCESS_PAGE) -> Path:
    """A two-page site with the oidc.json a build writes (the page sign-in returns to)."""
    target = root / redirect_page / ("index.html" if redirect_page.endswith("/") else "")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("<p>access levels</p>\n")
    (root / "index.html").write_text("<!DOCTYPE html><title>docs</title><p>home</p>\n")
    (root / "_access_checker").mkdir(exist_ok=True)
    (root / "_access_checker" / "oidc.json").write_text(
        json.dumps({"redirect_page": redirect_page, "post_logout_page": redirect_page})
    )
    return root
