"""Sphinx extension for the build benchmark's baseline: the checker's directive and role
names, registered as no-ops that render plain text (``sphinx_access_checker`` disabled).

The baseline sources are the site's own with ``sphinx_access_checker`` replaced by this
module in ``conf.py``: same pages, same markup, no policy, no assets, no widget.
"""

from __future__ import annotations

from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective, SphinxRole


class PlainLevel(SphinxRole):
    """``:access-level:`full``` → the text "full access"."""

    def run(self) -> tuple[list[nodes.Node], list[nodes.system_message]]:
        return [nodes.inline(text=f"{self.text.strip()} access")], []


class _Plain(SphinxDirective):
    optional_arguments = 1
    final_argument_whitespace = True
    has_content = False
    template = ""

    def run(self) -> list[nodes.Node]:
        argument = self.arguments[0] if self.arguments else ""
        return [nodes.paragraph(text=self.template.format(argument))]


class PlainFeatures(_Plain):
    template = "The features of {} access are listed on the access-levels page."


class PlainProjects(_Plain):
    template = "The supported projects are listed on the access-levels page.{}"


class PlainRequirement(_Plain):
    template = "Requirements: see the access-levels page for what {} needs."


class PlainChecker(_Plain):
    template = "The access checker runs in the web version of this page.{}"


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_role("access-level", PlainLevel())
    app.add_directive("access-features", PlainFeatures)
    app.add_directive("access-projects", PlainProjects)
    app.add_directive("access-requirement", PlainRequirement)
    app.add_directive("access-checker", PlainChecker)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
