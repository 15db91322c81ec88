"""The ``access-checker`` directive: the widget's root element and its no-JavaScript fallback.

The directive emits a neutral ``access_checker_widget`` node holding the fallback text. The
HTML site renders it as the widget's root (``data-access-checker``, settings in ``data-*``)
and keeps the fallback inside ``<noscript>``; every other builder (latex, text, epub, …) gets
just the fallback: the page's own text plus a pointer to support, and no assets.
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Final

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.util.docutils import SphinxDirective
from sphinx.util.osutil import relative_uri
from sphinx.writers.html5 import HTML5Translator

from access_checker.web.shell import shell_view
from sphinx_access_checker import pages
from sphinx_access_checker.assets import HTML_BUILDERS, staged
from sphinx_access_checker.policy_source import get_policy, policy_of_record
from sphinx_access_checker.references import doc_link

SIGNIN_PAGES_FILE: Final = Path("_access_checker") / "oidc.json"


class access_checker_widget(nodes.General, nodes.Element):  # noqa: N801 (docutils naming)
    """Root of the in-page checker; children are the fallback for readers without it."""


class AccessCheckerDirective(SphinxDirective):
    has_content = False

    def run(self) -> list[nodes.Node]:
        policy = policy_of_record(self.env)
        pages.note(self.env, pages.WIDGET)
        fallback = nodes.paragraph()
        fallback += nodes.Text("The interactive access checker runs in the web version of this page")
        if base := self.config.html_baseurl:
            # Print and e-books: the reader needs the address, not just a name.
            online = f"{base.rstrip('/')}/{policy.page}.html"
            fallback += nodes.Text(", ")
            fallback += nodes.reference(online, online, refuri=online)
        fallback += nodes.Text(". To ask for a higher access level, ")
        fallback += doc_link(policy.support.page, "contact support")
        fallback += nodes.Text(f" (helpdesk: {policy.support.helpdesk}, e-mail: {policy.support.email}).")
        node = access_checker_widget()
        node += fallback
        self.set_source_info(node)
        return [node]


def redirect_page(config: Config) -> str:
    """The page the provider sends readers back to: configured, or the policy's own page."""
    return str(config.access_checker_oidc_redirect_page) or get_policy(config).page


def post_logout_page(config: Config) -> str:
    return str(config.access_checker_oidc_post_logout_page) or get_policy(config).page


def _attrs(values: dict[str, str]) -> str:
    return " ".join(f'{name}="{escape(value, quote=True)}"' for name, value in values.items())


def visit_widget_html(self: HTML5Translator, node: access_checker_widget) -> None:
    builder = self.builder
    if builder.name not in HTML_BUILDERS:
        return  # epub, singlehtml…: the fallback paragraph renders as it is
    config = builder.config
    docname = builder.current_docname
    here = builder.get_target_uri(docname)
    assets = staged(builder.outdir)
    policy = get_policy(config)

    def url(target: str) -> str:
        return relative_uri(here, target)

    def page(name: str) -> str:
        # Relative to the site root (data-root), so that a page can name itself.
        return builder.get_target_uri(name)

    signin_state = "signed-out" if config.access_checker_oidc_client_id else "unavailable"
    root = _attrs({
        "class": "access-checker",
        "data-access-checker": "",
        "data-state": "idle",
        "data-signin": signin_state,
        "data-root": url("") or "./",
        "data-page-pattern": builder.get_target_uri("PAGE"),
        "data-runtime": url(assets.runtime),
        "data-runtime-lock": assets.lock,
        "data-wheel": url(assets.wheel),
        "data-policy": url(assets.policy),
        "data-policy-version": assets.policy_version,
        "data-boot-timeout": str(config.access_checker_boot_timeout),
        "data-issuer": config.access_checker_oidc_issuer,
        "data-client-id": config.access_checker_oidc_client_id,
        "data-scopes": config.access_checker_oidc_scopes,
        "data-redirect-page": page(redirect_page(config)),
        "data-post-logout-page": page(post_logout_page(config)),
        "data-support-page": page(policy.support.page),
        # The HTML id of each level's section, so that the widget's level links land on it.
        "data-level-anchors": json.dumps({
            level.id: pages.label_target(builder.env, level.anchor, f"policy level {level.id!r}", "its section")[1]
            for level in policy.levels if level.anchor
        }),
        "data-helpdesk": policy.support.helpdesk,
        "data-support-email": policy.support.email,
        "aria-labelledby": "access-checker-title",
    })
    # The idle widget comes from the same Python views as the booted one.
    shell = "".join(el.to_html() for el in shell_view(signin=bool(config.access_checker_oidc_client_id)))
    self.body.append(f"<section {root}>{shell}<noscript>")


def depart_widget_html(self: HTML5Translator, node: access_checker_widget) -> None:
    if self.builder.name in HTML_BUILDERS:
        self.body.append("</noscript></section>")


def write_signin_pages(app: Sphinx, exception: Exception | None) -> None:
    """build-finished: ``_access_checker/oidc.json``, the pages the provider sends readers back to.

    Paths are relative to the site root and depend on the builder (``page.html`` for html,
    ``page/`` for dirhtml): the local stack registers exactly these with the demo provider, and
    the maintainers' registration checklist names the same for a real one.
    """
    if exception is not None or app.builder.name not in HTML_BUILDERS:
        return
    config = app.config
    pages = {
        "redirect_page": app.builder.get_target_uri(redirect_page(config)),
        "post_logout_page": app.builder.get_target_uri(post_logout_page(config)),
    }
    path = Path(app.builder.outdir) / SIGNIN_PAGES_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(pages, indent=2) + "\n", encoding="utf-8")


def _fallback_only(self: object, node: access_checker_widget) -> None:
    """Other formats: the widget cannot run there, its fallback paragraph renders as it is."""


def setup(app: Sphinx) -> None:
    fallback = (_fallback_only, _fallback_only)
    app.add_node(
        access_checker_widget, html=(visit_widget_html, depart_widget_html),
        latex=fallback, text=fallback, man=fallback, texinfo=fallback,
    )
    app.add_directive("access-checker", AccessCheckerDirective)
    app.connect("build-finished", write_signin_pages)
