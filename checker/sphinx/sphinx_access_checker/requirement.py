"""The "Requirements" box: ``.. access-requirement:: <feature id>``, rendered from the policy.

The box is a plain admonition, so every builder renders it; its classes
(``access-requirement access-feature-<id>``) let the small ``boxes`` script add a personal
verdict for a reader who has used the checker in this tab.
"""

from __future__ import annotations

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

from sphinx_access_checker import pages
from sphinx_access_checker.policy_source import policy_of_record
from sphinx_access_checker.references import PolicyReferenceError, doc_link, level_link


class AccessRequirementDirective(SphinxDirective):
    required_arguments = 1
    has_content = False

    def run(self) -> list[nodes.Node]:
        policy = policy_of_record(self.env)
        pages.note(self.env, pages.BOXES)
        feature_id = self.arguments[0]
        try:
            feature = policy.feature(feature_id)
        except KeyError:
            known = ", ".join(f.id for f in policy.features)
            raise PolicyReferenceError(
                f"{self.get_location()}: unknown feature {feature_id!r} in access-requirement "
                f"(the policy's features: {known})"
            ) from None
        level = policy.level(feature.level)
        box = nodes.admonition(
            classes=["access-requirement", f"access-feature-{feature.id}", f"access-needs-{level.id}"]
        )
        box += nodes.title(text="Requirements")
        needs = nodes.paragraph()
        needs += nodes.Text("This needs the ")
        needs += level_link(policy, level.id, level.title)
        needs += nodes.Text(". Check your own level with the ")
        needs += doc_link(policy.page, "access checker")
        needs += nodes.Text(".")
        box += needs
        self.set_source_info(box)
        return [box]


def setup(app: Sphinx) -> None:
    app.add_directive("access-requirement", AccessRequirementDirective)
