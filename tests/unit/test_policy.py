"""The policy file: the default reproduces the seed; problems are reported with key paths."""

from __future__ import annotations

import pytest

from access_checker.policy import Policy, PolicyError, default_policy_bytes, parse_policy


def test_default_policy_reproduces_the_seed(policy: Policy) -> None:
    assert [level.id for level in policy.levels] == ["anonymous", "basic", "full"]
    assert {f.id: f.level for f in policy.features} == {
        "try": "basic", "deploy-cloud": "basic", "llm": "basic",
        "develop": "full", "train": "full", "deploy": "full", "storage": "full"}
    assert [p.id for p in policy.projects] == ["ai4eosc", "imagine", "ai4life"]
    assert policy.project_for_vo("vo.imagine-ai.eu") == policy.project("imagine")


def test_version_is_the_content_hash() -> None:
    data = default_policy_bytes()
    assert parse_policy(data).version == parse_policy(data).version
    assert parse_policy(data + b"\n# edited\n").version != parse_policy(data).version


def _broken(old: str, new: str) -> list[str]:
    with pytest.raises(PolicyError) as error:
        parse_policy(default_policy_bytes().decode().replace(old, new, 1).encode())
    return error.value.problems


def test_unknown_level_in_a_feature_names_its_key_path() -> None:
    assert _broken('page = "howtos/try/index"\nlevel = "basic"', 'page = "howtos/try/index"\nlevel = "ful"') == [
        "features[0].level: unknown level 'ful' (levels: anonymous, basic, full)"]


def test_every_problem_is_reported_at_once() -> None:
    problems = _broken('id = "ai4eosc"\nname = "AI4EOSC"', 'id = "AI 4EOSC"\nname = 7')
    assert any(p.startswith("projects[0].id:") for p in problems)
    assert any(p.startswith("projects[0].name:") for p in problems)


def test_duplicate_ids_unknown_tiers_and_rule_kinds() -> None:
    assert any("duplicate feature id 'try'" in p for p in _broken('id = "deploy-cloud"', 'id = "try"'))
    assert any("unknown tier 'ap-z'" in p for p in _broken('tiers = ["ap-u", "ap-d"]', 'tiers = ["ap-z"]'))
    assert any("unknown rule kind" in p for p in _broken('kind = "entitlement"', 'kind = "magic"'))
    assert any("must be an https:// URL" in p for p in _broken('"https://ai4eosc.eu/"', '"http://ai4eosc.eu/"'))


def test_not_toml_is_one_clear_problem() -> None:
    with pytest.raises(PolicyError) as error:
        parse_policy(b"[policy\n")
    assert error.value.problems[0].startswith("(file): not valid TOML")


def test_adding_projects_and_a_level_is_data_only(extended_policy: Policy) -> None:
    assert [level.id for level in extended_policy.levels] == ["anonymous", "basic", "intermediate", "full"]
    assert extended_policy.project_for_vo("training.egi.eu") == extended_policy.project("tutorials")


def test_the_register_page_comes_from_the_policy(policy: Policy, extended_policy: Policy) -> None:
    assert policy.register == extended_policy.register == "getting-started/register"
    assert _broken('register = "getting-started/register"\n', "") == ["policy.register: missing"]
    assert _broken('register = "getting-started/register"', 'register = "https://example.org/join"') == [
        "policy.register: 'https://example.org/join' is not a valid value (expected ^[a-z0-9_-]+(/[a-z0-9_-]+)*$)"]
