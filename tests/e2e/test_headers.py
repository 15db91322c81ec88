"""Security headers: what the test server and ``make serve`` send, and the same policy in a meta tag.

The header policy comes from the build's ``_access_checker/headers.json`` (served by
``dev/serve.py``); the ``<meta http-equiv>`` policy is written into every page for hosts that
cannot set headers. They must say the same, but for ``frame-ancestors`` (which a meta tag
cannot carry), allow no inline or eval'd script, and hash every inline script the theme writes.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page

from dev.processes import free_port, serving
from tests.conftest import REPO
from tests.e2e.builds import fetch
from tests.e2e.conftest import Site, Watch, state
from tests.e2e.csp import INLINE_SCRIPT, directives, meta_policies, script_hash
from tests.e2e.widget import ACCESS

PAGES = ["index", "search", ACCESS, "help/faq", "howtos/train/index", "genindex", "reference/llm"]
FORBIDDEN = {"'unsafe-inline'", "'unsafe-eval'", "'unsafe-hashes'", "*", "'strict-dynamic'", "http:", "https:", "data:"}


def expected_policy(site: Site) -> dict[str, list[str]]:
    return {
        "default-src": ["'self'"],
        "style-src": ["'self'"],
        "connect-src": ["'self'", site.stack.idp_url],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }


def check_policy(policy: dict[str, list[str]], site: Site) -> None:
    for name, sources in expected_policy(site).items():
        assert policy.get(name) == sources, (name, policy.get(name))
    script = policy["script-src"]
    assert script[:2] == ["'self'", "'wasm-unsafe-eval'"], script
    assert all(s.startswith("'sha256-") for s in script[2:]), script
    assert set(policy.get("img-src", ["'self'"])) <= {"'self'", "data:"}, policy.get("img-src")
    for name, sources in policy.items():
        if name != "img-src":
            assert not FORBIDDEN & set(sources), (name, sources)
    assert set(policy) <= {*expected_policy(site), "script-src", "img-src"}, sorted(policy)


@pytest.mark.parametrize("docname", PAGES)
def test_header_and_meta_policies_agree(site: Site, docname: str) -> None:
    status, headers, html = fetch(site.page_url(docname))
    assert status == 200
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["x-content-type-options"] == "nosniff"
    header = directives(headers["content-security-policy"])
    check_policy(header, site)
    metas = meta_policies(html)
    assert len(metas) == 1, metas
    meta = directives(metas[0])
    assert "frame-ancestors" not in meta
    assert meta == {k: v for k, v in header.items() if k != "frame-ancestors"}
    # A meta policy only governs what follows it: it comes before every script of the page.
    head = html[: html.index("</head>")]
    assert head.index('http-equiv="Content-Security-Policy"') < head.index("<script")
    # Every inline script the theme wrote is allowed by its hash, and nothing else is.
    for script in INLINE_SCRIPT.findall(html):
        assert script_hash(script) in header["script-src"], script[:200]


@pytest.mark.parametrize("path", ["/no-such-page.html", "/_static/access-checker/", "/_access_checker/headers.json"])
def test_every_response_carries_the_headers(site: Site, path: str) -> None:
    """Error pages, redirects and files too: a header missing on one response is a gap. The
    worker's script matters most: a worker takes its policy from its own response, not the page's."""
    ui = next((site.root / "_static" / "access-checker").glob("ui-*/"))
    scripts = [f"{site.url}/{(ui / name).relative_to(site.root)}" for name in ("widget.mjs", "worker.mjs")]
    for url in (site.url + path, *scripts):
        _, headers, _ = fetch(url)
        assert headers.get("x-content-type-options") == "nosniff", url
        assert headers.get("referrer-policy") == "no-referrer", url
        check_policy(directives(headers["content-security-policy"]), site)


@pytest.fixture(scope="module")
def make_serve(site: Site, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``make serve``'s own command (``dev/stack.py``) on the session's build, on free ports."""
    port, idp_port = free_port(), free_port()
    log = tmp_path_factory.mktemp("make-serve") / "stack.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DEMO_IDP_", "ACCESS_CHECKER_"))}
    env.update(PORT=str(port), IDP_PORT=str(idp_port))
    url = f"http://127.0.0.1:{port}"
    with serving([sys.executable, str(REPO / "dev" / "stack.py"), "--root", str(site.root)], url + "/", log=log,
                 env=env, name="dev/stack.py", ready_line="Ctrl-C stops both.", timeout=30):
        yield url


def test_make_serve_sends_the_same_headers(site: Site, make_serve: str) -> None:
    for docname in ("index", ACCESS, "search"):
        _, ours, _ = fetch(f"{site.url}/{docname}.html")
        _, theirs, _ = fetch(f"{make_serve}/{docname}.html")
        for name in ("content-security-policy", "referrer-policy", "x-content-type-options"):
            assert theirs[name] == ours[name], name


def test_pages_run_under_the_policy(page: Page, site: Site, watch: Watch) -> None:
    """The policy is the one the browser enforces, and nothing on these pages breaks it."""
    page.goto(f"{site.url}/search.html?q=nvidia-smi")
    page.wait_for_selector("#search-results li a", timeout=30_000)
    hits = [a.get_attribute("href") or "" for a in page.query_selector_all("#search-results li a")]
    assert any("howtos/train/index.html" in href for href in hits), hits
    assert not page.evaluate("window.__accessCheckerCsp")
    page.goto(site.page_url(ACCESS))
    assert state(page) == "idle" and not page.evaluate("window.__accessCheckerCsp")
    # Inline script is refused by the browser, whatever a page might try to add.
    watch.expect_error("Executing inline script violates the following Content Security Policy directive")
    page.evaluate("""() => { const s = document.createElement('script'); s.textContent = 'window.__ran = 1';
                             document.head.append(s); }""")
    assert page.evaluate("window.__ran") is None
    violations = page.evaluate("window.__accessCheckerCsp.splice(0)")  # caused on purpose: not a failure
    assert any(v.startswith("script-src-elem") for v in violations), violations
