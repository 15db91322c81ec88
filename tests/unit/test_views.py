"""The widget's views (pure element trees): links from the build, options, the account context."""

from __future__ import annotations

from access_checker.assessment import evaluate
from access_checker.policy import Policy
from access_checker.request import Account
from access_checker.web.elements import El
from access_checker.web.views import Links, account_view, assessment_view, options_view

LINKS = Links.from_settings({"root": "../", "pagePattern": "PAGE.html",
                             "levelAnchors": '{"basic": "authentication-basic", "full": "authentication-full"}'})


def hrefs(el: El) -> dict[str, str]:
    return {a.text(): a.attrs["href"] for a in el.find(lambda e: e.tag == "a")}


def test_links_come_from_the_settings(policy: Policy) -> None:
    assert LINKS.page("getting-started/register") == "../getting-started/register.html"
    assert LINKS.level(policy, policy.level("basic")) == "../reference/user-access-levels.html#authentication-basic"
    # A page built without the ids (or with broken ones) links to the page itself.
    assert Links.from_settings({"levelAnchors": {"basic": "b"}}).level(policy, policy.level("basic")).endswith("#b")
    for anchors in (None, "", "not json", "[1]", '{"basic": 7}', 7):
        links = Links.from_settings({"root": "", "levelAnchors": anchors})
        assert links.level(policy, policy.level("basic")) == "reference/user-access-levels.html", anchors


def test_the_basic_level_link_of_a_reader_not_signed_in(policy: Policy) -> None:
    headline = assessment_view(evaluate(None, policy), LINKS).children[0]
    assert isinstance(headline, El)
    assert hrefs(headline) == {"basic access": "../reference/user-access-levels.html#authentication-basic"}


def test_options_link_pages_of_this_site_and_other_sites(policy: Policy) -> None:
    options = options_view(evaluate(None, policy), LINKS)
    assert options is not None
    links = hrefs(options)
    assert links["Register on the platform"] == "../getting-started/register.html"
    assert links["Join AI4EOSC through its open calls for external use cases"] == "https://ai4eosc.eu/"
    assert links["Ask support for full access (special request)"] == policy.support.helpdesk


def test_the_account_context_is_shown_read_only(policy: Policy) -> None:
    assert account_view(None, policy).attrs["data-account"] == "self-reported"
    account = Account(self_reported=False, subject="1234@egi.eu", issuer="https://aai.egi.eu/auth/realms/egi",
                      levels=(("ai4eosc", "basic"),))
    shown = account_view(account, policy)
    assert shown.attrs["data-account"] == "signed-in"
    assert [child.text() for child in shown.children if isinstance(child, El)] == [
        "Account id", "1234@egi.eu", "Issuer", "https://aai.egi.eu/auth/realms/egi", "Current levels",
        "AI4EOSC: basic access"]
