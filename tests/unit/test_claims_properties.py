"""Property: any JSON at all, as claims, never raises and always yields a defined level."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from access_checker.assessment import evaluate
from access_checker.policy import Policy, default_policy

POLICY: Policy = default_policy()
LEVELS = {level.id for level in POLICY.levels}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=25,
)
role_like = st.sampled_from(["access:vo.ai4eosc.eu:ap-u", "access:vo.imagine-ai.eu:ap-0", "platform-access:vo.ai4life.eu",
                             "default-roles-ai4eosc"]) | st.text(max_size=40)
entitlement_like = st.builds(
    lambda ns, vo, role, auth: f"{ns}:group:{vo}{role}{auth}",
    st.sampled_from(["urn:mace:egi.eu", "URN:MACE:EGI.EU", "urn:mace:other.org", ""]),
    st.sampled_from(["vo.ai4eosc.eu", "vo.imagine-ai.eu", "vo.ai4life.eu", "", "x:y"]),
    st.sampled_from(["", ":role=member", ":role=", ":sub:role=vm_operator"]),
    st.sampled_from(["", "#aai.egi.eu", "#"]),
)
claims_like = st.fixed_dictionaries({}, optional={
    "sub": st.text(max_size=20) | json_values,
    "realm_access": st.fixed_dictionaries({"roles": st.lists(role_like, max_size=8)}) | json_values,
    "eduperson_entitlement": st.lists(entitlement_like | st.text(max_size=30), max_size=8) | json_values,
    "name": json_values,
})


@given(json_values)
def test_arbitrary_json_never_raises(claims: object) -> None:
    assessment = evaluate(claims, POLICY)
    assert assessment.level in LEVELS
    json.dumps(assessment.to_json())


@given(claims_like)
def test_claims_shaped_input_is_consistent(claims: dict[str, object]) -> None:
    assessment = evaluate(claims, POLICY)
    assert assessment.level in LEVELS
    ranks = [POLICY.rank(level) for level in assessment.projects.values()]
    assert POLICY.rank(assessment.level) == max(ranks)
    # A feature is allowed exactly when some project reaches its level.
    for verdict in assessment.features:
        assert verdict.allowed == bool(verdict.projects)
    # Every level above the lowest is backed by evidence.
    for project, level in assessment.projects.items():
        if level != POLICY.lowest.id:
            assert any(e.project == project and e.level == level for e in assessment.evidence)
