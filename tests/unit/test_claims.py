"""Reading claims: realm roles, legacy roles and EGI entitlements (real identifiers)."""

from __future__ import annotations

from access_checker.claims import Entitlement, Ignored, parse_claims, parse_entitlement


def test_keycloak_access_roles_are_read_and_others_ignored_with_a_reason() -> None:
    claims = parse_claims({"sub": "u1", "realm_access": {"roles": [
        "access:vo.ai4eosc.eu:ap-u", "default-roles-ai4eosc", "inference_access:vo.imagine-ai.eu",
        "access:vo.imagine-ai.eu:ap-a1",
    ]}})
    assert [(r.vo, r.tier) for r in claims.realm_roles] == [("vo.ai4eosc.eu", "ap-u"), ("vo.imagine-ai.eu", "ap-a1")]
    reasons = {i.value: i.reason for i in claims.ignored}
    assert reasons == {"default-roles-ai4eosc": "not an access role",
                       "inference_access:vo.imagine-ai.eu": "not an access role"}


def test_legacy_roles_are_read() -> None:
    claims = parse_claims({"sub": "u", "realm_access": {"roles": ["platform-access:vo.ai4life.eu",
                                                                  "developer-access:vo.ai4eosc.eu"]}})
    assert [(r.role, r.vo) for r in claims.legacy_roles] == [
        ("platform-access", "vo.ai4life.eu"), ("developer-access", "vo.ai4eosc.eu")]


def test_entitlement_with_role_and_authority() -> None:
    e = parse_entitlement("x", "urn:mace:egi.eu:group:vo.imagine-ai.eu:role=vm_operator#aai.egi.eu")
    assert isinstance(e, Entitlement)
    assert (e.namespace, e.groups, e.role, e.authority) == ("urn:mace:egi.eu", ("vo.imagine-ai.eu",), "vm_operator", "aai.egi.eu")


def test_entitlement_with_subgroups_role_applies_to_the_rightmost() -> None:
    e = parse_entitlement("x", "urn:mace:egi.eu:group:vo.example.eu:vo.example-sub.eu:role=member#aai.egi.eu")
    assert isinstance(e, Entitlement)
    assert e.vo == "vo.example.eu" and e.groups == ("vo.example.eu", "vo.example-sub.eu") and e.role == "member"


def test_entitlement_without_role_or_authority() -> None:
    e = parse_entitlement("x", "urn:mace:egi.eu:group:vo.ai4eosc.eu")
    assert isinstance(e, Entitlement) and e.role is None and e.authority is None


def test_malformed_entitlements_are_ignored_with_reasons() -> None:
    for value, reason in [
        ("urn:mace:egi.eu:vo.ai4eosc.eu", "not a group entitlement"),
        ("urn:mace:egi.eu:group::role=member", "empty group name"),
        ("urn:mace:egi.eu:group:vo.ai4eosc.eu:role=", "empty role="),
        ("urn:mace:egi.eu:group:vo.ai4eosc.eu#", "empty #authority"),
        ("urn:mace:egi.eu:group:vo.ai4eosc.eu:role=member:sub", "role= must come last"),
        ("http://example.org/group:vo", "not a group entitlement"),
    ]:
        parsed = parse_entitlement("e", value)
        assert isinstance(parsed, Ignored) and reason in parsed.reason, value


def test_the_group_keyword_is_case_sensitive() -> None:
    assert isinstance(parse_entitlement("e", "urn:mace:egi.eu:GROUP:vo.ai4eosc.eu"), Ignored)


def test_wrong_types_never_raise_and_are_recorded() -> None:
    claims = parse_claims({"sub": 5, "realm_access": ["access:vo.ai4eosc.eu:ap-u"],
                           "eduperson_entitlement": {"a": 1}, "name": None})
    assert claims.subject is None
    sources = {i.source for i in claims.ignored}
    assert {"sub", "realm_access", "eduperson_entitlement"} <= sources


def test_a_single_string_entitlement_is_accepted_as_a_list() -> None:
    claims = parse_claims({"sub": "u", "eduperson_entitlement": "urn:mace:egi.eu:group:vo.ai4life.eu#aai.egi.eu"})
    assert [e.vo for e in claims.entitlements] == ["vo.ai4life.eu"]


def test_huge_lists_are_cut_and_recorded() -> None:
    roles = [f"access:vo.x{i}.eu:ap-0" for i in range(10_000)]
    claims = parse_claims({"sub": "u", "realm_access": {"roles": roles}})
    assert len(claims.realm_roles) == 256
    assert any("only the first 256" in i.reason for i in claims.ignored)


def test_odd_unicode_in_roles_is_ignored_and_shown_escaped() -> None:
    claims = parse_claims({"sub": "u", "realm_access": {"roles": ["access:vo.ai4eosc.eu:ap-u\u202e", "accéss:vo:ap-u",
                                                                  "access:vo.ai4eosc.eu:ap-u\x00"]}})
    assert claims.realm_roles == ()
    assert len(claims.ignored) == 3
    assert all("\u202e" not in i.value and "\x00" not in i.value for i in claims.ignored)


def test_roles_without_a_subject_do_not_sign_anyone_in() -> None:
    claims = parse_claims({"realm_access": {"roles": ["access:vo.ai4eosc.eu:ap-u"]}})
    assert not claims.signed_in
    assert any(i.source == "sub" for i in claims.ignored)
