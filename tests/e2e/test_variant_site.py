"""A maintainer's variant of the site, end to end: dirhtml URLs and a policy with four levels.

AI4OS's later documentation has four levels (not signed in, basic, intermediate for eduGAIN
researchers, full). A maintainer who moves to such a policy edits the policy file and the
access page, nothing else; and a maintainer may publish with the dirhtml builder, whose URLs
are ``page/``. One build covers both, to keep the suite's time down: the site is built from a
copy of the docs with the four-level policy of the unit tests, served by the local stack with
the demo provider, and a demo account signs in through the provider's real form.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from dev.stack import Stack, free_port, running_stack
from tests.conftest import DEMO_CLIENT_ID, REPO, copy_site, sphinx_build
from tests.e2e.conftest import state, wait_ready
from tests.e2e.watched import watched_context

FOUR_LEVELS = REPO / "tests" / "unit" / "policies" / "extended.toml"
POLICY_OF_RECORD = "checker/core/access_checker/policies/ai4os.toml"
ACCESS = "reference/user-access-levels"
INTERMEDIATE_SECTION = """\
.. _authentication_intermediate:

Intermediate access level
-------------------------

This access level adds, for researchers who sign in with eduGAIN:

.. access-features:: intermediate

"""


@dataclass
class Variant:
    src: Path
    root: Path
    stack: Stack

    def url(self, docname: str) -> str:
        return f"{self.stack.site_url}/{docname}/"


def _checker(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "access_checker", *args],
                          capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture(scope="module")
def variant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Variant]:
    tmp = tmp_path_factory.mktemp("variant")
    src = copy_site(tmp / "src")
    (src / POLICY_OF_RECORD).write_bytes(FOUR_LEVELS.read_bytes())
    page = src / f"{ACCESS}.rst"
    page.write_text(page.read_text().replace(".. _authentication_full:", INTERMEDIATE_SECTION + ".. _authentication_full:"))
    port, idp_port = free_port(), free_port()
    env = {"ACCESS_CHECKER_OIDC_ISSUER": f"http://127.0.0.1:{idp_port}", "ACCESS_CHECKER_OIDC_CLIENT_ID": DEMO_CLIENT_ID}
    out = tmp / "dirhtml"
    result = sphinx_build(src, out, builder="dirhtml", env=env)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert "WARNING" not in result.stderr, result.stderr[-3000:]
    with running_stack(out, port=port, idp_port=idp_port) as stack:
        yield Variant(src, out, stack)


def test_the_cli_accepts_the_four_level_policy_and_rates_an_edugain_identity_intermediate(
    variant: Variant, tmp_path: Path,
) -> None:
    policy = variant.src / POLICY_OF_RECORD
    checked = _checker("check-policy", str(policy))
    assert checked.returncode == 0, checked.stderr
    accounts = json.loads((REPO / "dev" / "idp" / "accounts.json").read_text())
    claims = tmp_path / "claims.json"
    claims.write_text(json.dumps({k: v for k, v in accounts["edugain-user"].items() if not k.startswith("_")}))
    evaluated = _checker("evaluate", "--claims", str(claims), "--policy", str(policy), "--json")
    assert evaluated.returncode == 0, evaluated.stderr
    assert json.loads(evaluated.stdout)["level"] == "intermediate"


def test_the_page_lists_what_the_new_level_unlocks(variant: Variant) -> None:
    html = (variant.root / ACCESS / "index.html").read_text()
    assert ">Intermediate access level<" in html
    section = html.split("access-features-intermediate")[1].split("</ul>")[0]
    assert 'href="../llm/"' in section


def test_a_signed_in_edugain_researcher_sees_intermediate_access_under_dirhtml_urls(
    browser: Browser, variant: Variant,
) -> None:
    with watched_context(browser, [variant.stack.site_url]) as watched:
        page = watched.page()
        page.goto(variant.url(ACCESS))
        page.click("[data-action=sign-in]")
        page.fill("input[name=login]", "edugain-user")
        page.fill("input[name=password]", "any password works")
        page.click("button[type=submit]")
        # Back on the access page's own dirhtml URL, not on a .html path the build never wrote.
        page.wait_for_url(f"{variant.url(ACCESS)}*", timeout=30_000)
        assert wait_ready(page) == "ready"
        assert state(page, "signin") == "signed-in"
        assert state(page, "level") == "intermediate"
        assert "intermediate access" in page.inner_text("[data-access-checker]")
        _boxes_link_to_the_access_page(page, variant)


def _boxes_link_to_the_access_page(page: Page, variant: Variant) -> None:
    # Same tab: the session summary the widget stored personalises the boxes.
    page.goto(variant.url("reference/llm"))
    allowed = page.locator(".access-requirement[data-verdict]")
    allowed.wait_for()
    assert allowed.get_attribute("data-verdict") == "allowed"
    page.goto(variant.url("howtos/train"))
    denied = page.locator(".access-requirement[data-verdict=denied] .access-verdict a")
    denied.wait_for()
    denied.click()
    page.wait_for_url(f"{variant.url(ACCESS)}#access-upgrade")
    assert page.locator("#access-upgrade").count() == 1
    assert page.get_by_role("heading", name="Upgrading your access level").is_visible()
