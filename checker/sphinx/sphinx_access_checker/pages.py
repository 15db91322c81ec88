"""Which pages carry the widget or a requirement box, and the small assets each one gets.

Pages without either load nothing of ours; the box script and CSS go only where boxes are,
and the widget's loader only where the widget is (the Pyodide runtime loads later, on demand).
"""

from __future__ import annotations

import json
from html import escape
from typing import Any

from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment

from sphinx_access_checker.assets import HTML_BUILDERS, staged
from sphinx_access_checker.policy_source import get_policy
from sphinx_access_checker.references import PolicyReferenceError

WIDGET = "access_checker_widget_pages"
BOXES = "access_checker_box_pages"


def _pages(env: BuildEnvironment, kind: str) -> set[str]:
    pages: set[str] | None = getattr(env, kind, None)
    if pages is None:
        pages = set()
        setattr(env, kind, pages)
    return pages


def note(env: BuildEnvironment, kind: str) -> None:
    _pages(env, kind).add(env.docname)


def has(env: BuildEnvironment, kind: str, docname: str) -> bool:
    return docname in _pages(env, kind)


def _purge(app: Sphinx, env: BuildEnvironment, docname: str) -> None:
    for kind in (WIDGET, BOXES):
        _pages(env, kind).discard(docname)


def _merge(app: Sphinx, env: BuildEnvironment, docnames: set[str], other: BuildEnvironment) -> None:
    for kind in (WIDGET, BOXES):
        _pages(env, kind).update(_pages(other, kind) & docnames)


def _outdated(app: Sphinx, env: BuildEnvironment, added: set[str], changed: set[str], removed: set[str]) -> list[str]:
    """Pages that name the asset URLs must be rewritten when a new generation of assets is staged.

    Asset names are content-versioned, so a changed widget script or runtime gives new URLs;
    pages whose sources did not change would otherwise keep pointing at the old ones.
    """
    if app.builder.name not in HTML_BUILDERS:
        return []
    assets = staged(app.builder.outdir)
    generation = (assets.runtime, assets.wheel, assets.policy, assets.ui)
    previous = getattr(env, "access_checker_generation", None)
    env.access_checker_generation = generation  # type: ignore[attr-defined]
    if previous is None or previous == generation:
        return []
    return sorted(_pages(env, WIDGET) | _pages(env, BOXES))


def _page_assets(app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any) -> None:
    if app.builder.name not in HTML_BUILDERS:
        return
    ui = staged(app.builder.outdir).ui.removeprefix("_static/")
    widget, boxes = has(app.env, WIDGET, pagename), has(app.env, BOXES, pagename)
    if widget or boxes:
        app.add_css_file(f"{ui}access-checker.css")
    if widget:
        app.add_js_file(f"{ui}widget.mjs", type="module")
    if boxes:
        app.add_js_file(f"{ui}boxes.mjs", type="module")
        # What boxes.mjs needs besides the summary: display names, and the policy version the
        # summary must match. Data only: the verdict is looked up, never computed.
        policy = get_policy(app.config)
        names = json.dumps({p.id: p.name for p in policy.projects}, ensure_ascii=False)
        context["metatags"] = context.get("metatags", "") + (
            f'\n<meta name="access-checker-projects" content="{escape(names, quote=True)}">'
            f'\n<meta name="access-checker-policy" content="{escape(policy.version, quote=True)}">'
            f'\n<meta name="access-checker-upgrade" content="{escape(upgrade_href(app, pagename), quote=True)}">'
        )


def upgrade_href(app: Sphinx, pagename: str) -> str:
    """The link from ``pagename`` to the section that says how to get more access.

    The label comes from the configuration and its HTML id from Sphinx's own label table, so
    the page never guesses how a label becomes an id.
    """
    label = app.config.access_checker_upgrade_label
    docname, anchor = label_target(app.env, label, "access_checker_upgrade_label",
                                   "the section that says how to get more access")
    return f"{app.builder.get_relative_uri(pagename, docname)}#{anchor}"


def label_target(env: BuildEnvironment, label: str, setting: str, what: str) -> tuple[str, str]:
    """(docname, HTML id) of a label, from Sphinx's own label table: never guessed from the name."""
    labels = env.domains.standard_domain.labels
    if label not in labels:
        raise PolicyReferenceError(f"{setting}: no label {label!r} in the documentation (add `.. _{label}:` before {what})")
    docname, anchor, _title = labels[label]
    return docname, anchor


def setup(app: Sphinx) -> None:
    app.connect("env-get-outdated", _outdated)
    app.connect("env-purge-doc", _purge)
    app.connect("env-merge-info", _merge)
    app.connect("html-page-context", _page_assets)
