"""evaluate(): levels per project and overall, features, evidence, ignored, options."""

from __future__ import annotations

from access_checker.assessment import evaluate
from access_checker.policy import Policy


def _roles(*roles: str) -> dict[str, object]:
    return {"sub": "user-1", "realm_access": {"roles": list(roles)}}


def test_not_signed_in_is_anonymous_everywhere(policy: Policy) -> None:
    for claims in (None, {}, {"name": "x"}, [], "junk"):
        a = evaluate(claims, policy)
        assert a.level == "anonymous" and set(a.projects.values()) == {"anonymous"}
        assert not any(v.allowed for v in a.features)
        assert a.options[0].kind == "register"
        assert (a.options[0].page, a.options[0].url) == (policy.register, None)


def test_any_subject_is_basic_in_every_project(policy: Policy) -> None:
    a = evaluate({"sub": "abc"}, policy)
    assert a.projects == {"ai4eosc": "basic", "imagine": "basic", "ai4life": "basic"}
    allowed = {v.feature.id for v in a.features if v.allowed}
    assert allowed == {"try", "deploy-cloud", "llm"}


def test_tiers_below_ap_u_count_as_basic(policy: Policy) -> None:
    for tier in ("ap-0", "ap-a", "ap-a1", "ap-b"):
        assert evaluate(_roles(f"access:vo.ai4eosc.eu:{tier}"), policy).level == "basic", tier


def test_ap_u_and_ap_d_give_full_in_that_project_only(policy: Policy) -> None:
    for tier in ("ap-u", "ap-d"):
        a = evaluate(_roles(f"access:vo.imagine-ai.eu:{tier}"), policy)
        assert a.level == "full" and a.level_projects == ("imagine",)
        assert a.projects == {"ai4eosc": "basic", "imagine": "full", "ai4life": "basic"}
        train = next(v for v in a.features if v.feature.id == "train")
        assert train.allowed and train.projects == ("imagine",)


def test_evidence_names_the_claim_and_the_rule(policy: Policy) -> None:
    a = evaluate(_roles("default-roles-ai4eosc", "access:vo.ai4eosc.eu:ap-u"), policy)
    full = [e for e in a.evidence if e.level == "full"]
    assert [(e.project, e.source, e.value) for e in full] == [
        ("ai4eosc", "realm_access.roles[1]", "access:vo.ai4eosc.eu:ap-u")]
    assert "ap-u" in full[0].why


def test_legacy_roles_give_full(policy: Policy) -> None:
    a = evaluate(_roles("platform-access:vo.ai4life.eu"), policy)
    assert a.projects["ai4life"] == "full"
    assert evaluate(_roles("developer-access:vo.ai4eosc.eu"), policy).projects["ai4eosc"] == "full"


def test_egi_membership_gives_full_with_any_role_case_insensitive_namespace(policy: Policy) -> None:
    for value in ("urn:mace:egi.eu:group:vo.imagine-ai.eu:role=member#aai.egi.eu",
                  "urn:mace:egi.eu:group:vo.imagine-ai.eu:role=vm_operator#aai.egi.eu",
                  "URN:MACE:EGI.EU:group:vo.imagine-ai.eu",
                  "urn:mace:egi.eu:group:vo.imagine-ai.eu:sub.group:role=member#other.authority"):
        a = evaluate({"sub": "x", "eduperson_entitlement": [value]}, policy)
        assert a.projects["imagine"] == "full", value


def test_group_names_compare_case_sensitively_and_other_namespaces_do_not_count(policy: Policy) -> None:
    a = evaluate({"sub": "x", "eduperson_entitlement": [
        "urn:mace:egi.eu:group:VO.IMAGINE-AI.EU#aai.egi.eu", "urn:mace:other.org:group:vo.ai4eosc.eu"]}, policy)
    assert a.level == "basic"
    reasons = [i.reason for i in a.ignored]
    assert any("is not one of the policy's projects" in r for r in reasons)
    assert any("does not speak for" in r for r in reasons)


def test_unknown_vo_and_tier_are_explained(policy: Policy) -> None:
    a = evaluate(_roles("access:vo.unknown.eu:ap-u", "access:vo.ai4eosc.eu:ap-z"), policy)
    assert a.level == "basic"
    assert {i.reason for i in a.ignored} == {"VO 'vo.unknown.eu' is not one of the policy's projects",
                                             "unknown platform tier 'ap-z'"}


def test_upgrade_options_skip_projects_already_at_full(policy: Policy) -> None:
    a = evaluate(_roles("access:vo.ai4eosc.eu:ap-u"), policy)
    joins = [o.project for o in a.options if o.kind == "join-project"]
    assert joins == ["imagine", "ai4life"]
    assert any(o.kind == "special-request" for o in a.options)
    everything = evaluate(_roles(*(f"access:{vo}:ap-u" for vo in ("vo.ai4eosc.eu", "vo.imagine-ai.eu", "vo.ai4life.eu"))), policy)
    assert everything.options == ()


def test_extended_policy_adds_a_level_and_projects_without_code(extended_policy: Policy) -> None:
    a = evaluate(_roles("access:vo.ai4eosc.eu:ap-a", "access:kmd4eosc:ap-u"), extended_policy)
    assert a.projects["ai4eosc"] == "intermediate" and a.projects["kmd4eosc"] == "full"
    llm = next(v for v in a.features if v.feature.id == "llm")
    assert llm.allowed and llm.projects == ("ai4eosc", "kmd4eosc")
    tutorials = evaluate({"sub": "x", "eduperson_entitlement": ["urn:mace:egi.eu:group:training.egi.eu#aai.egi.eu"]},
                         extended_policy)
    assert tutorials.projects["tutorials"] == "full"


def test_json_shape_matches_the_contract(policy: Policy) -> None:
    data = evaluate(_roles("access:vo.ai4eosc.eu:ap-u"), policy).to_json()
    assert data["level"] == "full" and data["projects"]["ai4eosc"] == "full"
    assert data["features"]["train"] == {"allowed": True, "level": "full", "page": "howtos/train/index",
                                         "projects": ["ai4eosc"]}
    assert data["options"][0] == {"kind": "join-project", "title": "Join iMagine through its open calls for external use cases",
                                  "page": None, "url": "https://imagine-ai.eu/", "project": "imagine"}
    summary = evaluate(_roles("access:vo.ai4eosc.eu:ap-u"), policy).summary(expires=123)
    assert summary == {"version": 1, "policy": policy.version, "level": "full", "projects": data["projects"],
                       "features": {k: {"allowed": v["allowed"], "projects": v["projects"]} for k, v in data["features"].items()},
                       "expires": 123}
