"""What the widget shows, as element trees built from an Assessment and the request form.

Pure functions: no ``js`` here, so every word the reader sees is testable on CPython.
"""

import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

from access_checker.assessment import Assessment
from access_checker.claims import MAX_LENGTH
from access_checker.policy import Level, Policy
from access_checker.request import Account, outputs
from access_checker.text import escaped
from access_checker.web.elements import El, h

_NO_ANCHORS: Mapping[str, str] = MappingProxyType({})


class Links(NamedTuple):
    """URLs of this site, as the build made them.

    A docname becomes ``root`` + ``pattern`` with ``PAGE`` replaced; ``anchors`` maps a level
    id to the HTML id of the level's section on the policy's page (without it, a link to a
    level goes to the page).
    """

    root: str
    pattern: str = "PAGE.html"
    anchors: Mapping[str, str] = _NO_ANCHORS

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> "Links":
        """From the widget's settings: ``root``, ``pagePattern`` and ``levelAnchors`` (an object
        or its JSON text); what is missing or malformed leaves links to levels at the page."""
        anchors = settings.get("levelAnchors")
        if isinstance(anchors, str):
            try:
                anchors = json.loads(anchors)
            except ValueError:
                anchors = None
        return cls(str(settings.get("root", "")), str(settings.get("pagePattern", "PAGE.html")),
                   {str(k): v for k, v in anchors.items() if isinstance(v, str)} if isinstance(anchors, dict) else {})

    def page(self, docname: str) -> str:
        return self.root + self.pattern.replace("PAGE", docname)

    def level(self, policy: Policy, level: Level) -> str:
        anchor = self.anchors.get(level.id)
        return self.page(policy.page) + (f"#{anchor}" if anchor else "")


def informational_note() -> El:
    return h("p", {"class": "access-checker__note"},
             "This checker is informational: the platform itself decides what you can do, "
             "and its decision wins if the two ever differ.")


def _project_names(policy: Policy, ids: tuple[str, ...] | list[str]) -> str:
    return ", ".join(policy.project(pid).name for pid in ids)


def assessment_view(assessment: Assessment, links: Links) -> El:
    policy = assessment.policy
    level = policy.level(assessment.level)
    if assessment.signed_in:
        where = _project_names(policy, assessment.level_projects)
        headline = h("p", {"class": "access-checker__level", "data-level": level.id},
                     "Your access level: ", h("strong", {}, level.name), f" (in {where})")
    else:
        headline = h("p", {"class": "access-checker__level", "data-level": level.id},
                     "You are not signed in, so the checker cannot see your level. ",
                     "Any registered user has at least ",
                     h("a", {"href": links.level(policy, policy.levels[1])},
                       policy.levels[1].name) if len(policy.levels) > 1 else None, ".")
    rows = [
        h("tr", {"data-project": p.id},
          h("th", {"scope": "row"}, p.name),
          h("td", {"data-level": assessment.projects[p.id]}, policy.level(assessment.projects[p.id]).name))
        for p in policy.projects
    ]
    projects = h("table", {"class": "access-checker__projects"},
                 h("caption", {}, "Your level in each project"),
                 h("thead", {}, h("tr", {}, h("th", {"scope": "col"}, "Project"), h("th", {"scope": "col"}, "Level"))),
                 h("tbody", {}, *rows)) if assessment.signed_in else None

    def feature_item(verdict_index: int) -> El:
        verdict = assessment.features[verdict_index]
        needs = policy.level(verdict.feature.level).name
        if verdict.allowed and assessment.signed_in:
            extra = f" (in {_project_names(policy, verdict.projects)})"
        else:
            extra = f" (needs {needs})"
        return h("li", {"data-feature": verdict.feature.id, "data-allowed": "true" if verdict.allowed else "false"},
                 h("a", {"href": links.page(verdict.feature.page)}, verdict.feature.title), extra)

    allowed = [i for i, v in enumerate(assessment.features) if v.allowed]
    denied = [i for i, v in enumerate(assessment.features) if not v.allowed]
    features = h("div", {"class": "access-checker__features"},
                 h("p", {"class": "access-checker__subtitle"}, "What you can do"),
                 h("ul", {"data-list": "allowed"}, *[feature_item(i) for i in allowed]) if allowed
                 else h("p", {}, "Nothing yet: sign in to use the platform."),
                 h("p", {"class": "access-checker__subtitle"}, "What you cannot do yet") if denied else None,
                 h("ul", {"data-list": "denied"}, *[feature_item(i) for i in denied]) if denied else None)

    return h("div", {"class": "access-checker__assessment"},
             headline, projects, features, evidence_view(assessment), options_view(assessment, links))


def evidence_view(assessment: Assessment) -> El | None:
    if not assessment.signed_in:
        return None
    policy = assessment.policy
    lowest = policy.lowest.id
    counted = [e for e in assessment.evidence if e.level != lowest]
    items = [
        h("li", {}, h("code", {}, f"{e.source} = {escaped(e.value, MAX_LENGTH)}"),
          f" gives {policy.level(e.level).name} in {policy.project(e.project).name}: {e.why}")
        for e in counted
    ]
    ignored = [h("li", {}, h("code", {}, f"{i.source} = {i.value}"), f": {i.reason}") for i in assessment.ignored]
    return h("details", {"class": "access-checker__evidence", "open": ""},
             h("summary", {}, "Why: what counted"),
             h("ul", {"data-list": "evidence"}, *items),
             h("p", {}, f"Ignored ({len(ignored)}):") if ignored else None,
             h("ul", {"data-list": "ignored"}, *ignored) if ignored else None)


def options_view(assessment: Assessment, links: Links) -> El | None:
    if not assessment.options:
        return h("p", {"class": "access-checker__options"}, "You have the highest level in every project: nothing to upgrade.")
    items = []
    for option in assessment.options:
        url = links.page(option.page) if option.page is not None else option.url or ""
        items.append(h("li", {"data-option": option.kind}, h("a", {"href": url}, option.title)))
    return h("div", {"class": "access-checker__options"},
             h("p", {"class": "access-checker__subtitle"}, "How to get more"),
             h("ul", {}, *items))


def account_view(account: Account | None, policy: Policy) -> El:
    """The account context from the sign-in that goes with the request: read-only."""
    if account is None:
        return h("p", {"class": "access-checker__account", "data-account": "self-reported"},
                 "You are not signed in: the request carries no account details, and support will "
                 "look up your account from your e-mail address (self-reported).")
    # "simple": the theme's own mark for a plain definition list (else <dt> looks like an API name).
    return h("dl", {"class": "access-checker__account simple", "data-account": "signed-in"},
             *[part for label, value in outputs.context_rows(account, policy) if value
               for part in (h("dt", {}, label), h("dd", {}, value))])


def outputs_view(*, helpdesk: str, mailto: str, short_mailto: bool) -> El:
    """The ways to send a ready request; the page copies and downloads at once (``Outputs``)."""
    return h("div", {"class": "access-checker__outputs", "data-outputs": ""},
             h("p", {"class": "access-checker__subtitle"}, "Send your request"),
             h("p", {}, "Your request is ready. Send it to support in one of these ways:"),
             h("ul", {},
               h("li", {}, h("a", {"href": helpdesk, "target": "_blank", "rel": "noopener noreferrer",
                                   "data-output": "helpdesk"}, "Open a helpdesk ticket"),
                 " (preferred) and paste the request: ",
                 h("button", {"type": "button", "data-output": "copy"}, "Copy request")),
               h("li", {}, h("a", {"href": mailto, "data-output": "mailto"}, "E-mail support"),
                 " (the message asks you to attach the JSON file)" if short_mailto else None),
               h("li", {}, h("button", {"type": "button", "data-output": "download"}, "Download JSON"),
                 " to attach to your ticket or e-mail.")),
             h("p", {"class": "access-checker__next"},
               "What happens next: the support team reviews each request by hand and answers by e-mail. "
               "There is no automatic confirmation, and resources are limited, so a review can take a few days."))


def privacy_view(draft_days: int) -> El:
    """``draft_days``: how long the page's storage keeps a draft (the page says, ``storage.mjs``)."""
    return h("div", {"class": "access-checker__privacy"},
             h("p", {"class": "access-checker__subtitle"}, "Your data in this browser"),
             h("p", {}, "Sign-in tokens stay in this tab's memory only and are gone when you close it. "
                        "Your access summary and claims stay in this tab's session storage until you sign out or close the tab. "
                        f"Your request draft is saved in this browser's local storage as you type, for {draft_days} days, "
                        "so that a reload loses nothing. Nothing is sent anywhere until you contact support."),
             h("button", {"type": "button", "data-action": "forget"}, "Forget my data"))
