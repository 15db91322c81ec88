"""Watched browser contexts for sites other than the session one.

The session fixtures of ``conftest.py`` watch the healthy site's pages. The hardening tests also
open sites of their own (a second stack with hostile demo accounts, copies of a build with parts
broken on purpose), and watch those the same way: a request that leaves 127.0.0.1, a console
error, a page error or a Content-Security-Policy violation fails the test unless the test names
it as something it causes on purpose.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import Browser, BrowserContext, Dialog, Page

from tests.e2e.conftest import WATCH, Watch


@dataclass
class Watched:
    context: BrowserContext
    watch: Watch
    csp_expected: list[str]
    dialogs: list[str]

    def page(self) -> Page:
        page = self.context.new_page()
        page.on("dialog", self._dialog)
        return page

    def _dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def expect_csp(self, fragment: str) -> None:
        """A test that breaks the CSP on purpose names the violation it causes."""
        self.csp_expected.append(fragment)


@contextlib.contextmanager
def watched_context(browser: Browser, site_urls: Sequence[str], **options: Any) -> Iterator[Watched]:
    """A context watched as conftest's ``context`` fixture watches the session site's pages.

    Fails on exit on requests that left 127.0.0.1 from the sites' pages, console errors and page
    errors (unless named with ``watch.expect_error``), CSP violations (unless named with
    ``expect_csp``) and any JavaScript dialog.
    """
    def on_site(url: str) -> bool:
        return any(url == s or url.startswith(s + "/") for s in site_urls)

    context = browser.new_context(**{"accept_downloads": True, "viewport": {"width": 1280, "height": 900}, **options})
    context.add_init_script(WATCH)
    watched = Watched(context, Watch(), [], [])
    watch = watched.watch

    def route(route: Any) -> None:
        request = route.request
        if request.url.startswith(("data:", "blob:")) or urlsplit(request.url).hostname == "127.0.0.1":
            route.continue_()
            return
        if on_site(request.frame.url):
            watch.outside.append(request.url)
        route.abort()

    context.route("**/*", route)
    context.on("request", lambda r: watch.requests.append(r.url))
    context.on("console", lambda m: watch.errors.append(f"console {m.type}: {m.text}")
               if m.type == "error" and on_site(m.page.url if m.page else "") else None)
    context.on("weberror", lambda e: watch.errors.append(f"page error: {e.error}"))
    try:
        yield watched
        violations: list[str] = []
        for page in context.pages:
            if not page.is_closed() and on_site(page.url):
                violations.extend(page.evaluate("window.__accessCheckerCsp || []"))
    finally:
        context.close()
    assert not watch.outside, f"requests left 127.0.0.1: {watch.outside}"
    unexpected = [v for v in violations if not any(f in v for f in watched.csp_expected)]
    assert not unexpected, f"Content-Security-Policy violations: {unexpected}"
    assert not watch.unexpected_errors(), f"console errors: {watch.unexpected_errors()}"
    assert not watched.dialogs, f"dialogs opened: {watched.dialogs}"

