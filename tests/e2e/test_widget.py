"""The checker in the page, for a reader who is not signed in (Chromium, real Pyodide)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from playwright.sync_api import Page

from tests.e2e.conftest import Site, Watch, state, wait_ready
from tests.e2e.widget import settled

ACCESS = "reference/user-access-levels"
GOOD = {
    "name": "Marta Ruiz", "email": "marta.ruiz@example.org", "institution": "Instituto de Física de Cantabria",
    "why": "We segment plankton images and need GPUs for training.",
    "planned_use": "Train a U-Net on 40k images and deploy it as a service.",
    "resources.gpus": "1", "resources.storage_gb": "200", "duration_months": "6", "heard_from": "A colleague",
}


def start(page: Page, site: Site) -> None:
    page.goto(site.page_url(ACCESS))
    page.click("[data-action=start]")
    assert wait_ready(page) == "ready", page.inner_text(".access-checker__app")


def fill(page: Page, values: dict[str, str]) -> None:
    for name, value in values.items():
        page.fill(f'.access-checker__form [name="{name}"]', value)


def test_the_level_link_lands_on_the_level_section(page: Page, site: Site) -> None:
    start(page, site)
    link = page.locator(".access-checker__level a")
    # The build passes each level's HTML id (from Sphinx's label table); the page never guesses it.
    assert link.get_attribute("href", timeout=5_000).endswith(f"{ACCESS}.html#authentication-basic")
    link.click()
    page.wait_for_url(f"{site.page_url(ACCESS)}#authentication-basic")
    assert page.get_by_role("heading", name="Basic access level").is_visible()


def test_click_then_ready_shows_the_levels_explained(page: Page, site: Site) -> None:
    page.goto(site.page_url(ACCESS))
    assert state(page) == "idle"
    start(page, site)
    assert state(page, "level") == "anonymous"
    # The standard library and the checker both ran from the build's precompiled bytecode.
    assert state(page, "python") == "bytecode"
    text = page.inner_text(".access-checker__app")
    assert "You are not signed in" in text and "informational" in text
    assert "Ask support for full access (special request)" in text
    assessment = page.evaluate("window.accessChecker.assessment")
    assert assessment["level"] == "anonymous" and set(assessment["projects"]) == {"ai4eosc", "imagine", "ai4life"}


def test_form_errors_then_valid_outputs_match_the_input(page: Page, site: Site, tmp_path: Path) -> None:
    start(page, site)
    fill(page, {"email": "not-an-email", "why": "too short", "resources.gpus": "3"})
    page.click(".access-checker__form button[type=submit]")
    errors = {el.get_attribute("data-error-for"): el.inner_text()
              for el in page.query_selector_all("[data-error-for]") if el.inner_text()}
    assert errors["email"] == "Enter an e-mail address like name@example.org."
    assert "at least 20" in errors["why"]
    assert "from 0 to 2" in errors["resources.gpus"]
    assert errors["name"] and errors["accepted_aup"]
    # Focus moves to the first field in error, and it is tied to its message.
    settled(page)
    assert page.evaluate("document.activeElement.name") == "name"
    assert "ac-name-error" in (page.get_attribute("#ac-name", "aria-describedby") or "")

    fill(page, GOOD)
    page.check('[name="projects"][value="imagine"]')
    page.check('[name="features"][value="train"]')
    page.check('[name="accepted_aup"]')
    page.click(".access-checker__form button[type=submit]")
    assert not [el for el in page.query_selector_all("[data-error-for]") if el.inner_text()]
    mailto = page.get_attribute("[data-output=mailto]", "href") or ""
    assert mailto.startswith("mailto:ai4eosc-support@listas.csic.es?")
    assert page.get_attribute("[data-output=helpdesk]", "href") == "https://helpdesk.cloud.ai4eosc.eu"
    with page.expect_download() as download:
        page.click("[data-output=download]")
    saved = tmp_path / "request.json"
    download.value.save_as(saved)
    document = json.loads(saved.read_text())
    assert document["name"] == GOOD["name"] and document["projects"] == ["imagine"]
    assert document["resources"] == {"gpus": 1, "storage_gb": 200} and document["duration_months"] == 6
    cli = subprocess.run([sys.executable, "-m", "access_checker", "validate", str(saved)],
                         capture_output=True, text=True, check=False)
    assert cli.returncode == 0, cli.stderr


def test_the_draft_survives_a_reload_and_forget_removes_it(page: Page, site: Site) -> None:
    start(page, site)
    fill(page, {"name": "Jan Novak", "why": "Line one\nline two of my reason."})
    page.check('[name="projects"][value="ai4life"]')
    page.reload()
    # Used once in this tab: the checker starts by itself on the next visit.
    assert wait_ready(page) == "ready"
    assert page.input_value('[name="name"]') == "Jan Novak"
    assert page.input_value('[name="why"]') == "Line one\nline two of my reason."
    assert page.is_checked('[name="projects"][value="ai4life"]')
    page.click("[data-action=forget]")
    settled(page)
    assert page.input_value('[name="name"]') == ""
    stored = page.evaluate("Object.keys(localStorage).concat(Object.keys(sessionStorage))")
    assert not [k for k in stored if k.startswith("access-checker:")]


def test_other_pages_fetch_no_pyodide_file(page: Page, site: Site, watch: Watch) -> None:
    for docname in ("index", "howtos/train/index", "help/faq", "reference/llm"):
        page.goto(site.page_url(docname))
    page.goto(site.page_url(ACCESS))
    assert state(page) == "idle"
    assert not [url for url in watch.requests if "/runtime-" in url or ".whl" in url or "pyodide" in url]
