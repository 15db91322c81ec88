"""Reading a provider's claims: realm roles and EGI entitlements, never raising.

The claims object is whatever the sign-in merged from the ID token, UserInfo and the access
token (see the maintainers' page "How the checker works"): untrusted JSON. Everything that is
not understood is kept as an ``Ignored`` entry with a reason, and a value shown escaped
(:func:`access_checker.text.escaped`), so the reader (and support) can see why a role did not
count.
"""

import re
from typing import Final, NamedTuple

from access_checker.text import escaped

# The platform's own pattern (access:<vo>:<level>); see the maintainers' page "How the checker works".
_ACCESS_ROLE: Final = re.compile(r"^access:(?P<vo>[^:]+):(?P<tier>.+)$")
_LEGACY_ROLE: Final = re.compile(r"^(?P<role>[a-z][a-z0-9-]*-access):(?P<vo>[^:]+)$")
# Roles and entitlements are identifiers: printable ASCII without spaces. Anything else is
# either a different claim or an attack on whoever displays it.
_IDENTIFIER: Final = re.compile(r"^[\x21-\x7e]+$")
MAX_ITEMS: Final = 256
MAX_LENGTH: Final = 512
MAX_TEXT: Final = 256


class Ignored(NamedTuple):
    source: str
    value: str
    reason: str


class RealmRole(NamedTuple):
    source: str
    value: str
    vo: str
    tier: str


class LegacyRole(NamedTuple):
    source: str
    value: str
    role: str
    vo: str


class Entitlement(NamedTuple):
    """An AARC-G069 group entitlement: namespace, group path, optional role and authority."""

    source: str
    value: str
    namespace: str
    groups: tuple[str, ...]
    role: str | None
    authority: str | None

    @property
    def vo(self) -> str:
        return self.groups[0]


class Claims(NamedTuple):
    subject: str | None
    issuer: str | None
    name: str | None
    email: str | None
    identity_provider: str | None
    realm_roles: tuple[RealmRole, ...]
    legacy_roles: tuple[LegacyRole, ...]
    entitlements: tuple[Entitlement, ...]
    ignored: tuple[Ignored, ...]

    @property
    def signed_in(self) -> bool:
        return self.subject is not None


def _text_claim(claims: dict[str, object], key: str, ignored: list[Ignored]) -> str | None:
    value = claims.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        ignored.append(Ignored(key, escaped(value), "not a non-empty string"))
        return None
    if len(value) > MAX_TEXT:
        ignored.append(Ignored(key, escaped(value), f"longer than {MAX_TEXT} characters"))
        return None
    return value


def _string_list(
    container: object, source: str, ignored: list[Ignored]
) -> list[tuple[str, str]]:
    """(source path, value) for each usable string in a claim that should be a list of strings."""
    if container is None:
        return []
    if isinstance(container, str):
        # Some providers send a single value instead of a one-element list.
        container = [container]
    if not isinstance(container, list):
        ignored.append(Ignored(source, escaped(container), "not a list of strings"))
        return []
    out: list[tuple[str, str]] = []
    for index, item in enumerate(container):
        path = f"{source}[{index}]"
        if index >= MAX_ITEMS:
            ignored.append(Ignored(source, f"{len(container) - MAX_ITEMS} more", f"only the first {MAX_ITEMS} values are read"))
            break
        if not isinstance(item, str):
            ignored.append(Ignored(path, escaped(item), "not a string"))
        elif len(item) > MAX_LENGTH:
            ignored.append(Ignored(path, escaped(item), f"longer than {MAX_LENGTH} characters"))
        elif not _IDENTIFIER.match(item):
            ignored.append(Ignored(path, escaped(item), "contains spaces, control or non-ASCII characters"))
        else:
            out.append((path, item))
    return out


def parse_entitlement(source: str, value: str) -> Entitlement | Ignored:
    """Parse ``urn:<nid>:<…>:group:<VO>[:<SUB>…][:role=<ROLE>][#<AUTHORITY>]`` (AARC-G069)."""
    body, hash_sign, authority = value.partition("#")
    if hash_sign and not authority:
        return Ignored(source, escaped(value), "empty #authority")
    marker = body.find(":group:")
    if body[:4].lower() != "urn:" or marker < 0:
        return Ignored(source, escaped(value), "not a group entitlement (urn:…:group:…)")
    namespace = body[:marker]
    parts = body[marker + len(":group:"):].split(":")
    role: str | None = None
    if parts and parts[-1].startswith("role="):
        role = parts.pop()[len("role="):]
        if not role:
            return Ignored(source, escaped(value), "empty role=")
    if not parts or any(not part for part in parts):
        return Ignored(source, escaped(value), "empty group name")
    if any("=" in part for part in parts):
        return Ignored(source, escaped(value), "role= must come last")
    return Entitlement(source, value, namespace, tuple(parts), role, authority or None)


def parse_claims(claims: object) -> Claims:
    """Read one claims object. Never raises; whatever is not understood goes to ``ignored``."""
    ignored: list[Ignored] = []
    if not isinstance(claims, dict):
        if claims is not None:
            ignored.append(Ignored("(claims)", escaped(claims), "not a JSON object"))
        return Claims(None, None, None, None, None, (), (), (), tuple(ignored))
    data: dict[str, object] = {str(k): v for k, v in claims.items()}

    subject = _text_claim(data, "sub", ignored)
    issuer = _text_claim(data, "iss", ignored)
    name = _text_claim(data, "name", ignored)
    email = _text_claim(data, "email", ignored)
    provider = _text_claim(data, "identity_provider", ignored)

    realm_roles: list[RealmRole] = []
    legacy_roles: list[LegacyRole] = []
    realm_access = data.get("realm_access")
    role_values: list[tuple[str, str]] = []
    if isinstance(realm_access, dict):
        role_values = _string_list(realm_access.get("roles"), "realm_access.roles", ignored)
    elif realm_access is not None:
        ignored.append(Ignored("realm_access", escaped(realm_access), "not an object"))
    for source, value in role_values:
        if match := _ACCESS_ROLE.match(value):
            realm_roles.append(RealmRole(source, value, match["vo"], match["tier"]))
        elif match := _LEGACY_ROLE.match(value):
            legacy_roles.append(LegacyRole(source, value, match["role"], match["vo"]))
        else:
            ignored.append(Ignored(source, value, "not an access role"))

    entitlements: list[Entitlement] = []
    for source, value in _string_list(data.get("eduperson_entitlement"), "eduperson_entitlement", ignored):
        parsed = parse_entitlement(source, value)
        if isinstance(parsed, Entitlement):
            entitlements.append(parsed)
        else:
            ignored.append(parsed)

    if subject is None and (realm_roles or legacy_roles or entitlements):
        ignored.append(Ignored("sub", "(missing)", "no subject: roles count only for a signed-in reader"))
    return Claims(
        subject, issuer, name, email, provider, tuple(realm_roles), tuple(legacy_roles),
        tuple(entitlements), tuple(ignored),
    )
