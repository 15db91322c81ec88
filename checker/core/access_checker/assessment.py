"""evaluate(claims, policy) -> Assessment: levels per project, features, evidence, options.

Pure and deterministic: the same claims and policy give the same assessment on CPython, in
the CLI and in the browser, so support can reproduce exactly what a reader saw.
"""

from typing import Any, NamedTuple

from access_checker.claims import Claims, Ignored, parse_claims
from access_checker.policy import Feature, Policy, Project, Rule

JSON_VERSION = 1


class Evidence(NamedTuple):
    """One claim that gave one level in one project, and the rule that made it count."""

    project: str
    level: str
    source: str
    value: str
    why: str


class FeatureVerdict(NamedTuple):
    feature: Feature
    allowed: bool
    projects: tuple[str, ...]


class UpgradeOption(NamedTuple):
    """A way up: ``register``, ``join-project`` (Option 1) or ``special-request`` (Option 2).

    It leads to a page of this site (``page``, a docname) or to another site (``url``).
    """

    kind: str
    title: str
    page: str | None = None
    url: str | None = None
    project: str | None = None


class Assessment(NamedTuple):
    policy: Policy
    claims: Claims
    level: str
    level_projects: tuple[str, ...]
    projects: dict[str, str]
    features: tuple[FeatureVerdict, ...]
    evidence: tuple[Evidence, ...]
    ignored: tuple[Ignored, ...]
    options: tuple[UpgradeOption, ...]

    @property
    def signed_in(self) -> bool:
        return self.claims.signed_in

    def to_json(self) -> dict[str, Any]:
        """Plain JSON, the shape of the CLI's ``--json`` and of ``window.accessChecker.assessment``."""
        return {
            "version": JSON_VERSION,
            "policy": self.policy.version,
            "signed_in": self.signed_in,
            "subject": self.claims.subject,
            "level": self.level,
            "level_projects": list(self.level_projects),
            "projects": dict(self.projects),
            "features": {
                v.feature.id: {
                    "allowed": v.allowed,
                    "level": v.feature.level,
                    "page": v.feature.page,
                    "projects": list(v.projects),
                }
                for v in self.features
            },
            "evidence": [
                {"project": e.project, "level": e.level, "source": e.source, "value": e.value, "why": e.why}
                for e in self.evidence
            ],
            "ignored": [{"source": i.source, "value": i.value, "reason": i.reason} for i in self.ignored],
            "options": [
                {"kind": o.kind, "title": o.title, "page": o.page, "url": o.url, "project": o.project}
                for o in self.options
            ],
        }

    def summary(self, expires: int) -> dict[str, Any]:
        """The token-free summary other pages read (see the maintainers' page "How the checker works")."""
        return {
            "version": 1,
            "policy": self.policy.version,
            "level": self.level,
            "projects": dict(self.projects),
            "features": {
                v.feature.id: {"allowed": v.allowed, "projects": list(v.projects)} for v in self.features
            },
            "expires": expires,
        }


def _matches(rule: Rule, claims: Claims, project: Project) -> list[tuple[str, str]]:
    """(source, value) of each claim that satisfies ``rule`` for ``project``."""
    if rule.kind == "signed-in":
        return [("sub", claims.subject)] if claims.subject is not None else []
    if rule.kind == "tier":
        return [(r.source, r.value) for r in claims.realm_roles if r.vo in project.vos and r.tier in rule.tiers]
    if rule.kind == "legacy-role":
        return [(r.source, r.value) for r in claims.legacy_roles if r.vo in project.vos and r.role in rule.roles]
    if rule.kind == "entitlement":
        # G069: the namespace compares case-insensitively, group names do not; any role (or
        # none) in the VO or one of its subgroups is membership; #authority is not compared.
        return [
            (e.source, e.value)
            for e in claims.entitlements
            if e.namespace.lower() == rule.namespace.lower() and e.vo in project.vos
        ]
    return []


def _unused(policy: Policy, claims: Claims, used: set[str]) -> list[Ignored]:
    """Why each recognised role or entitlement did not count (so the reader can tell support)."""
    out: list[Ignored] = []
    namespaces = {r.namespace.lower() for r in policy.rules if r.kind == "entitlement"}
    for role in claims.realm_roles:
        if role.source in used:
            continue
        if policy.project_for_vo(role.vo) is None:
            out.append(Ignored(role.source, role.value, f"VO {role.vo!r} is not one of the policy's projects"))
        elif role.tier not in policy.tiers:
            out.append(Ignored(role.source, role.value, f"unknown platform tier {role.tier!r}"))
        else:
            out.append(Ignored(role.source, role.value, "no rule gives a level for this tier"))
    for legacy in claims.legacy_roles:
        if legacy.source in used:
            continue
        if policy.project_for_vo(legacy.vo) is None:
            out.append(Ignored(legacy.source, legacy.value, f"VO {legacy.vo!r} is not one of the policy's projects"))
        else:
            out.append(Ignored(legacy.source, legacy.value, f"{legacy.role!r} is not a role the policy knows"))
    for ent in claims.entitlements:
        if ent.source in used:
            continue
        if ent.namespace.lower() not in namespaces:
            out.append(Ignored(ent.source, ent.value, f"namespace {ent.namespace!r} does not speak for the projects' VOs"))
        else:
            out.append(Ignored(ent.source, ent.value, f"VO {ent.vo!r} is not one of the policy's projects"))
    return out


def evaluate(claims: object, policy: Policy) -> Assessment:
    """Assess one claims object against ``policy``. Never raises on bad claims."""
    parsed = parse_claims(claims)
    lowest = policy.lowest.id
    projects: dict[str, str] = {}
    evidence: list[Evidence] = []
    used: set[str] = set()
    for project in policy.projects:
        level = lowest
        if parsed.signed_in:
            for rule in policy.rules:
                for source, value in _matches(rule, parsed, project):
                    evidence.append(Evidence(project.id, rule.level, source, value, rule.why))
                    used.add(source)
                    if policy.rank(rule.level) > policy.rank(level):
                        level = rule.level
        projects[project.id] = level

    top_rank = max(policy.rank(level) for level in projects.values())
    overall = policy.levels[top_rank].id
    level_projects = tuple(pid for pid, level in projects.items() if policy.rank(level) == top_rank)

    features = tuple(
        FeatureVerdict(
            feature,
            allowed=top_rank >= policy.rank(feature.level),
            projects=tuple(pid for pid, level in projects.items() if policy.rank(level) >= policy.rank(feature.level)),
        )
        for feature in policy.features
    )
    ignored = parsed.ignored + tuple(_unused(policy, parsed, used)) if parsed.signed_in else parsed.ignored
    return Assessment(
        policy=policy, claims=parsed, level=overall, level_projects=level_projects, projects=projects,
        features=features, evidence=tuple(evidence), ignored=ignored,
        options=_options(policy, parsed.signed_in, projects),
    )


def _options(policy: Policy, signed_in: bool, projects: dict[str, str]) -> tuple[UpgradeOption, ...]:
    highest = policy.highest
    below = [p for p in policy.projects if projects[p.id] != highest.id]
    options: list[UpgradeOption] = []
    if not signed_in:
        options.append(UpgradeOption("register", "Register on the platform", page=policy.register))
    options.extend(
        UpgradeOption("join-project", f"Join {p.name} through its open calls for external use cases",
                      url=p.homepage, project=p.id)
        for p in below
    )
    if below:
        options.append(UpgradeOption(
            "special-request", f"Ask support for {highest.name} (special request)", url=policy.support.helpdesk,
        ))
    return tuple(options)
