"""End-to-end fixtures: the built site and the demo provider on 127.0.0.1, and real Chromium.

Every page a test opens is watched: a request that leaves 127.0.0.1 is aborted and recorded,
and console errors, page errors and CSP violations are collected. A test fails if any occurs.
Nothing here skips: a missing browser or provider is a failure that says what to install.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from dev.stack import Stack, free_port, running_stack
from tests.conftest import DEMO_CLIENT_ID, REPO, sphinx_build

WATCH = """
window.__accessCheckerCsp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__accessCheckerCsp.push(e.violatedDirective + " " + e.blockedURI);
});
"""


def chromium_path() -> str:
    path = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.fail("Chromium is missing: install it (Debian/Ubuntu: apt-get install chromium).")
    return path


@dataclass
class Site:
    root: Path
    stack: Stack

    @property
    def url(self) -> str:
        return self.stack.site_url

    def page_url(self, docname: str) -> str:
        return f"{self.url}/{docname}.html"


@pytest.fixture(scope="session")
def site(built_site: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The real site configured for the demo sign-in (as ``make serve`` builds it), served by the
    local stack. Built from the session build's doctrees: the sources are read once per session."""
    port, idp_port = free_port(), free_port()
    out = tmp_path_factory.mktemp("e2e") / "html"
    env = {"ACCESS_CHECKER_OIDC_ISSUER": f"http://127.0.0.1:{idp_port}",
           "ACCESS_CHECKER_OIDC_CLIENT_ID": os.environ.get("E2E_CLIENT_ID", DEMO_CLIENT_ID)}
    result = sphinx_build(REPO, out, env=env, read_by=built_site)
    assert result.returncode == 0, result.stderr[-3000:]
    with running_stack(out, port=port, idp_port=idp_port, test_controls=True) as stack:
        yield Site(out, stack)


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(
        executable_path=chromium_path(),
        args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
              "--disable-component-update", "--disable-sync", "--disable-quic"],
    )
    yield browser
    browser.close()


@dataclass
class Watch:
    outside: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    expected: list[str] = field(default_factory=list)

    def expect_error(self, fragment: str) -> None:
        """A test that breaks something on purpose names the browser error it causes."""
        self.expected.append(fragment)

    def unexpected_errors(self) -> list[str]:
        return [e for e in self.errors if not any(fragment in e for fragment in self.expected)]


@pytest.fixture
def watch() -> Watch:
    return Watch()


def _on_site(url: str, site: Site) -> bool:
    return url.startswith(site.url + "/") or url == site.url


@pytest.fixture
def context(browser: Browser, watch: Watch, site: Site) -> Iterator[BrowserContext]:
    context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900})
    context.add_init_script(WATCH)

    def route(route: object) -> None:
        request = route.request  # type: ignore[attr-defined]
        host = urlsplit(request.url).hostname
        if request.url.startswith(("data:", "blob:")) or host == "127.0.0.1":
            route.continue_()  # type: ignore[attr-defined]
            return
        # The provider's own sign-in page imports web fonts: aborted, but not the site's fault.
        if _on_site(request.frame.url, site):
            watch.outside.append(request.url)
        route.abort()  # type: ignore[attr-defined]

    context.route("**/*", route)
    context.on("request", lambda r: watch.requests.append(r.url))
    context.on("console", lambda m: watch.errors.append(f"console {m.type}: {m.text}")
               if m.type == "error" and _on_site(m.page.url if m.page else "", site) else None)
    context.on("weberror", lambda e: watch.errors.append(f"page error: {e.error}"))
    yield context
    violations: list[str] = []
    for page in context.pages:
        if not page.is_closed() and _on_site(page.url, site):
            violations.extend(page.evaluate("window.__accessCheckerCsp || []"))
    context.close()
    assert not watch.outside, f"requests left 127.0.0.1: {watch.outside}"
    assert not violations, f"Content-Security-Policy violations: {violations}"
    assert not watch.unexpected_errors(), f"console errors: {watch.unexpected_errors()}"


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


def state(page: Page, name: str = "state") -> str:
    return str(page.evaluate(f"document.querySelector('[data-access-checker]').dataset.{name} || ''"))


def wait_ready(page: Page) -> str:
    """Wait on ``window.accessChecker.ready`` (maintainers, "How the checker works"): "ready", or "error" when it rejects."""
    return str(page.evaluate("window.accessChecker.ready.then(() => 'ready', () => 'error')"))
