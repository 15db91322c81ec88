"""Level names and links rendered from the policy, so that no page names a level by hand.

- role ``access-level``: ``:access-level:`full``` renders the level's name ("full access")
  linking to its section on the access-levels page;
- directive ``access-features``: the features of one level, each linking its page;
- directive ``access-projects``: the projects, each linking its homepage.
"""

from __future__ import annotations

from docutils import nodes
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.errors import SphinxError
from sphinx.util.docutils import SphinxDirective, SphinxRole

from access_checker.policy import Policy
from sphinx_access_checker.policy_source import policy_of_record


class PolicyReferenceError(SphinxError):
    category = "Access policy error"


def level_link(policy: Policy, level_id: str, text: str | None = None) -> addnodes.pending_xref:
    """A cross-reference to the section of a level; works in every builder."""
    level = policy.level(level_id)
    ref = addnodes.pending_xref(
        "", refdomain="std", reftype="ref", reftarget=level.anchor or "", refexplicit=True, refwarn=True,
    )
    ref += nodes.inline(text=text or level.name, classes=["access-level", f"access-level-{level.id}"])
    return ref


def doc_link(docname: str, text: str) -> addnodes.pending_xref:
    ref = addnodes.pending_xref(
        "", refdomain="std", reftype="doc", reftarget="/" + docname, refexplicit=True, refwarn=True,
    )
    ref += nodes.inline(text=text)
    return ref


def known_level(policy: Policy, level_id: str, where: str) -> None:
    usable = [level.id for level in policy.levels if level.anchor]
    if level_id not in usable:
        raise PolicyReferenceError(
            f"{where}: unknown access level {level_id!r} (the policy's levels with a section: {', '.join(usable)})"
        )


class AccessLevelRole(SphinxRole):
    def run(self) -> tuple[list[nodes.Node], list[nodes.system_message]]:
        policy = policy_of_record(self.env)
        level_id = self.text.strip()
        known_level(policy, level_id, self.get_location())
        return [level_link(policy, level_id)], []


class AccessFeaturesDirective(SphinxDirective):
    """``.. access-features:: basic``: a bullet list of the features that level unlocks."""

    required_arguments = 1

    def run(self) -> list[nodes.Node]:
        policy = policy_of_record(self.env)
        level_id = self.arguments[0]
        known_level(policy, level_id, self.get_location())
        items = nodes.bullet_list(classes=["access-features", f"access-features-{level_id}"])
        for feature in policy.features:
            if feature.level == level_id:
                item = nodes.list_item(classes=[f"access-feature-{feature.id}"])
                item += nodes.paragraph("", "", doc_link(feature.page, feature.title))
                items += item
        return [items]


class AccessProjectsDirective(SphinxDirective):
    """``.. access-projects::``: the projects whose members can get the highest level."""

    def run(self) -> list[nodes.Node]:
        policy = policy_of_record(self.env)
        items = nodes.bullet_list(classes=["access-projects"])
        for project in policy.projects:
            para = nodes.paragraph()
            para += nodes.reference("", project.name, refuri=project.homepage)
            para += nodes.Text(f": {project.description}")
            items += nodes.list_item("", para)
        return [items]


def setup(app: Sphinx) -> None:
    app.add_role("access-level", AccessLevelRole())
    app.add_directive("access-features", AccessFeaturesDirective)
    app.add_directive("access-projects", AccessProjectsDirective)
