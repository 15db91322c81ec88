"""The access policy: levels, features, projects and rules, loaded from TOML and validated.

A policy is data. Loading collects every problem with its key path (``features[2].level: …``)
instead of stopping at the first, so that a maintainer fixes a file in one pass.
"""

import hashlib
import re
import tomllib
from pathlib import Path
from typing import Any, Final, NamedTuple

RULE_KINDS: Final = ("signed-in", "tier", "legacy-role", "entitlement")
_ID_RE: Final = re.compile(r"^[a-z][a-z0-9-]{0,39}$")
_VO_RE: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_PAGE_RE: Final = re.compile(r"^[a-z0-9_-]+(/[a-z0-9_-]+)*$")


class PolicyError(ValueError):
    """A policy file that cannot be used; ``problems`` holds one ``key.path: message`` each."""

    def __init__(self, problems: list[str], source: str = "policy") -> None:
        self.problems = problems
        self.source = source
        super().__init__(f"{source}: " + "; ".join(problems))


class Level(NamedTuple):
    id: str
    name: str
    title: str
    rank: int
    anchor: str | None = None


class Feature(NamedTuple):
    id: str
    title: str
    page: str
    level: str


class Project(NamedTuple):
    id: str
    name: str
    description: str
    vos: tuple[str, ...]
    homepage: str
    dashboard: str


class Rule(NamedTuple):
    kind: str
    level: str
    why: str
    tiers: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    namespace: str = ""


class Support(NamedTuple):
    helpdesk: str
    email: str
    page: str
    acceptable_use: str
    privacy: str


class RequestLimits(NamedTuple):
    max_gpus: int
    max_storage_gb: int
    max_months: int


class Policy(NamedTuple):
    """A valid policy. ``page`` explains the levels; ``register`` tells a reader how to sign up."""

    id: str
    title: str
    page: str
    register: str
    levels: tuple[Level, ...]
    features: tuple[Feature, ...]
    projects: tuple[Project, ...]
    tiers: tuple[str, ...]
    rules: tuple[Rule, ...]
    support: Support
    limits: RequestLimits
    version: str

    @property
    def lowest(self) -> Level:
        return self.levels[0]

    @property
    def highest(self) -> Level:
        return self.levels[-1]

    def level(self, level_id: str) -> Level:
        for level in self.levels:
            if level.id == level_id:
                return level
        raise KeyError(level_id)

    def rank(self, level_id: str) -> int:
        return self.level(level_id).rank

    def feature(self, feature_id: str) -> Feature:
        for feature in self.features:
            if feature.id == feature_id:
                return feature
        raise KeyError(feature_id)

    def project(self, project_id: str) -> Project:
        for project in self.projects:
            if project.id == project_id:
                return project
        raise KeyError(project_id)

    def project_for_vo(self, vo: str) -> Project | None:
        for project in self.projects:
            if vo in project.vos:
                return project
        return None


def policy_version(data: bytes) -> str:
    """The policy's version: a short content hash, the same on CPython and in the browser."""
    return hashlib.sha256(data).hexdigest()[:16]


class _Reader:
    """Reads typed values out of the parsed TOML and records problems with key paths."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def problem(self, path: str, message: str) -> None:
        self.problems.append(f"{path}: {message}")

    def table(self, data: dict[str, Any], key: str, path: str) -> dict[str, Any]:
        value = data.get(key)
        if not isinstance(value, dict):
            self.problem(_join(path, key), "missing table" if value is None else "must be a table")
            return {}
        return value

    def tables(self, data: dict[str, Any], key: str) -> list[tuple[str, dict[str, Any]]]:
        value = data.get(key)
        if not isinstance(value, list) or not value:
            self.problem(key, f"needs at least one [[{key}]] entry")
            return []
        out = []
        for index, item in enumerate(value):
            if isinstance(item, dict):
                out.append((f"{key}[{index}]", item))
            else:
                self.problem(f"{key}[{index}]", "must be a table")
        return out

    def text(
        self, data: dict[str, Any], key: str, path: str, *, pattern: re.Pattern[str] | None = None,
        required: bool = True,
    ) -> str:
        value = data.get(key)
        where = _join(path, key)
        if value is None:
            if required:
                self.problem(where, "missing")
            return ""
        if not isinstance(value, str) or not value.strip():
            self.problem(where, "must be a non-empty string")
            return ""
        if pattern is not None and not pattern.match(value):
            self.problem(where, f"{value!r} is not a valid value (expected {pattern.pattern})")
        return value

    def url(self, data: dict[str, Any], key: str, path: str) -> str:
        value = self.text(data, key, path)
        if value and not value.startswith("https://"):
            self.problem(_join(path, key), f"{value!r} must be an https:// URL")
        return value

    def strings(
        self, data: dict[str, Any], key: str, path: str, *, pattern: re.Pattern[str] | None = None
    ) -> tuple[str, ...]:
        value = data.get(key)
        where = _join(path, key)
        if not isinstance(value, list) or not value:
            self.problem(where, "must be a non-empty list of strings")
            return ()
        out = []
        for index, item in enumerate(value):
            if not isinstance(item, str) or not item:
                self.problem(f"{where}[{index}]", "must be a non-empty string")
            elif pattern is not None and not pattern.match(item):
                self.problem(f"{where}[{index}]", f"{item!r} is not a valid value")
            else:
                out.append(item)
        return tuple(out)

    def integer(self, data: dict[str, Any], key: str, path: str, low: int, high: int) -> int:
        value = data.get(key)
        where = _join(path, key)
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(where, "must be an integer")
            return low
        if not low <= value <= high:
            self.problem(where, f"{value} is out of range ({low}–{high})")
        return value

    def unique(self, items: list[tuple[str, str]], what: str) -> None:
        seen: set[str] = set()
        for path, item_id in items:
            if item_id in seen:
                self.problem(path, f"duplicate {what} id {item_id!r}")
            seen.add(item_id)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def parse_policy(data: bytes, source: str = "policy") -> Policy:
    """Parse and validate policy TOML bytes; raise PolicyError listing every problem."""
    try:
        raw = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise PolicyError([f"(file): not UTF-8 ({exc.reason})"], source) from None
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError([f"(file): not valid TOML: {exc}"], source) from None
    r = _Reader()

    head = r.table(raw, "policy", "")
    policy_id = r.text(head, "id", "policy", pattern=_ID_RE)
    title = r.text(head, "title", "policy")
    page = r.text(head, "page", "policy", pattern=_PAGE_RE)
    register = r.text(head, "register", "policy", pattern=_PAGE_RE)

    levels: list[Level] = []
    for rank, (path, item) in enumerate(r.tables(raw, "levels")):
        levels.append(Level(
            id=r.text(item, "id", path, pattern=_ID_RE),
            name=r.text(item, "name", path),
            title=r.text(item, "title", path),
            anchor=r.text(item, "anchor", path, required=False) or None,
            rank=rank,
        ))
    r.unique([(f"levels[{i}].id", level.id) for i, level in enumerate(levels)], "level")
    level_ids = {level.id for level in levels}
    # The lowest level (not signed in) needs no section of its own; every other level does.
    for i, level in enumerate(levels[1:], start=1):
        if level.anchor is None:
            r.problem(f"levels[{i}].anchor", "missing (the label of the level's section)")

    def known_level(item: dict[str, Any], path: str) -> str:
        value = r.text(item, "level", path)
        if value and value not in level_ids:
            r.problem(_join(path, "level"), f"unknown level {value!r} (levels: {', '.join(sorted(level_ids))})")
        return value

    features = [
        Feature(
            id=r.text(item, "id", path, pattern=_ID_RE),
            title=r.text(item, "title", path),
            page=r.text(item, "page", path, pattern=_PAGE_RE),
            level=known_level(item, path),
        )
        for path, item in r.tables(raw, "features")
    ]
    r.unique([(f"features[{i}].id", f.id) for i, f in enumerate(features)], "feature")

    projects = [
        Project(
            id=r.text(item, "id", path, pattern=_ID_RE),
            name=r.text(item, "name", path),
            description=r.text(item, "description", path),
            vos=r.strings(item, "vos", path, pattern=_VO_RE),
            homepage=r.url(item, "homepage", path),
            dashboard=r.url(item, "dashboard", path),
        )
        for path, item in r.tables(raw, "projects")
    ]
    r.unique([(f"projects[{i}].id", p.id) for i, p in enumerate(projects)], "project")
    r.unique([(f"projects[{i}].vos", vo) for i, p in enumerate(projects) for vo in p.vos], "VO")

    platform = r.table(raw, "platform", "")
    tiers = r.strings(platform, "tiers", "platform", pattern=_ID_RE)

    rules: list[Rule] = []
    for path, item in r.tables(raw, "rules"):
        kind = r.text(item, "kind", path)
        if kind and kind not in RULE_KINDS:
            r.problem(_join(path, "kind"), f"unknown rule kind {kind!r} (kinds: {', '.join(RULE_KINDS)})")
        rule_tiers: tuple[str, ...] = ()
        roles: tuple[str, ...] = ()
        namespace = ""
        if kind == "tier":
            rule_tiers = r.strings(item, "tiers", path)
            for i, tier in enumerate(rule_tiers):
                if tier not in tiers:
                    r.problem(f"{path}.tiers[{i}]", f"unknown tier {tier!r} (not in platform.tiers)")
        elif kind == "legacy-role":
            roles = r.strings(item, "roles", path, pattern=_ID_RE)
        elif kind == "entitlement":
            namespace = r.text(item, "namespace", path)
            if namespace and not namespace.lower().startswith("urn:"):
                r.problem(_join(path, "namespace"), f"{namespace!r} must be a URN namespace (urn:…)")
        rules.append(Rule(
            kind=kind, level=known_level(item, path), why=r.text(item, "why", path),
            tiers=rule_tiers, roles=roles, namespace=namespace,
        ))

    support_raw = r.table(raw, "support", "")
    support = Support(
        helpdesk=r.url(support_raw, "helpdesk", "support"),
        email=r.text(support_raw, "email", "support", pattern=re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")),
        page=r.text(support_raw, "page", "support", pattern=_PAGE_RE),
        acceptable_use=r.url(support_raw, "acceptable_use", "support"),
        privacy=r.url(support_raw, "privacy", "support"),
    )
    limits_raw = r.table(raw, "request", "")
    limits = RequestLimits(
        max_gpus=r.integer(limits_raw, "max_gpus", "request", 0, 64),
        max_storage_gb=r.integer(limits_raw, "max_storage_gb", "request", 0, 100_000),
        max_months=r.integer(limits_raw, "max_months", "request", 1, 120),
    )

    if r.problems:
        raise PolicyError(r.problems, source)
    return Policy(
        id=policy_id, title=title, page=page, register=register, levels=tuple(levels), features=tuple(features),
        projects=tuple(projects), tiers=tiers, rules=tuple(rules), support=support,
        limits=limits, version=policy_version(data),
    )


def load_policy(path: str | Path) -> Policy:
    """Load a policy file; raise PolicyError (I/O problems included) with the file named."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise PolicyError([f"(file): cannot read it ({exc.strerror})"], str(path)) from None
    return parse_policy(data, str(path))


def default_policy_bytes() -> bytes:
    # Imported here: the browser never reads the default (it gets the policy of record), and
    # importlib.resources is a costly import in its cold start.
    from importlib import resources

    return resources.files("access_checker").joinpath("policies/ai4os.toml").read_bytes()


def default_policy() -> Policy:
    """The AI4OS policy shipped with the package (the docs name their own file of record)."""
    return parse_policy(default_policy_bytes(), "access_checker/policies/ai4os.toml")
