"""The extension's configuration values: declared once, with type and default, and validated.

Every value shares the ``access_checker_`` prefix. Validation happens at ``config-inited`` so
that a typo in ``conf.py`` is reported before any page is read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.errors import ConfigError
from sphinx.util import logging

import access_checker

logger = logging.getLogger(__name__)

_PACKAGE_POLICY = Path(access_checker.__file__).resolve().parent / "policies" / "ai4os.toml"
DEFAULT_ISSUER = "https://login.cloud.ai4eosc.eu/realms/ai4eosc"


@dataclass(frozen=True)
class Option:
    name: str
    default: Any
    types: tuple[type, ...]
    help: str
    rebuild: Literal["env", "html"] = "html"


OPTIONS: tuple[Option, ...] = (
    Option("policy", "", (str,), "Policy file of record (relative to conf.py); empty: the package's own.", "env"),
    Option("boot_timeout", 60, (int, float), "Seconds the Python runtime may take to start once downloaded."),
    Option("node_modules", "node_modules", (str,), "Folder holding the pinned npm packages (relative to conf.py)."),
    Option("cache_dir", ".cache/access-checker", (str,), "Where built assets are cached between builds (relative to conf.py)."),
    Option("compile", True, (bool,), "Precompile the standard library and the checker to bytecode with Pyodide's interpreter."),
    Option("trim_stdlib", True, (bool,), "Ship only the standard library modules the checker's worker loads "
           "(stdlib-modules.txt), uncompressed for HTTP compression; False ships all of it."),
    Option("oidc_issuer", DEFAULT_ISSUER, (str,), "OpenID provider issuer URL."),
    Option("oidc_client_id", "", (str,), "Public client id registered for the site; empty hides sign-in."),
    Option("oidc_scopes", "openid profile email", (str,), "Space-separated scopes requested at sign-in."),
    Option("oidc_redirect_page", "", (str,), "Page (docname) the provider redirects back to; empty: the policy's page."),
    Option("oidc_post_logout_page", "", (str,), "Page (docname) shown after signing out; empty: the policy's page."),
    Option("upgrade_label", "access-upgrade", (str,), "Label of the section that says how to get more access.", "env"),
    Option("csp_meta", True, (bool,), "Emit the Content-Security-Policy as a <meta> tag too, for hosts that cannot set headers."),
    Option("csp_extra_connect", [], (list,), "Extra origins the page may connect to (besides itself and the issuer)."),
)


def setup(app: Sphinx) -> None:
    for option in OPTIONS:
        app.add_config_value(f"access_checker_{option.name}", option.default, option.rebuild, option.types)
    app.connect("config-inited", validate)


def _is_loopback(host: str | None) -> bool:
    return host in ("127.0.0.1", "localhost", "::1")


def validate(app: Sphinx, config: Config) -> None:
    """Check every value; a wrong type or an unusable value stops the build with its name."""
    problems: list[str] = []
    for option in OPTIONS:
        name = f"access_checker_{option.name}"
        value = config[name]
        if isinstance(value, bool) and bool not in option.types:
            problems.append(f"{name} must be {' or '.join(t.__name__ for t in option.types)}, not {value!r}")
        elif not isinstance(value, option.types):
            problems.append(f"{name} must be {' or '.join(t.__name__ for t in option.types)}, not {type(value).__name__}")

    timeout = config.access_checker_boot_timeout
    if isinstance(timeout, (int, float)) and not isinstance(timeout, bool) and not 1 <= timeout <= 600:
        problems.append(f"access_checker_boot_timeout must be between 1 and 600 seconds, not {timeout}")

    issuer = config.access_checker_oidc_issuer
    if isinstance(issuer, str):
        parts = urlsplit(issuer)
        # oauth4webapi refuses plain-http issuers except where we allow it: loopback only.
        if not (parts.scheme == "https" or (parts.scheme == "http" and _is_loopback(parts.hostname))):
            problems.append(f"access_checker_oidc_issuer must be an https:// URL (http:// only on loopback), not {issuer!r}")
        if issuer.endswith("/"):
            problems.append("access_checker_oidc_issuer must not end with '/' (the issuer is compared exactly)")
    scopes = config.access_checker_oidc_scopes
    if isinstance(scopes, str) and "openid" not in scopes.split():
        problems.append("access_checker_oidc_scopes must include 'openid'")
    extra = config.access_checker_csp_extra_connect
    if isinstance(extra, list):
        for origin in extra:
            if not isinstance(origin, str) or urlsplit(origin).scheme not in ("https", "http"):
                problems.append(f"access_checker_csp_extra_connect: {origin!r} is not an origin URL")

    policy = config.access_checker_policy
    if isinstance(policy, str) and policy and not (Path(app.confdir) / policy).is_file():
        problems.append(f"access_checker_policy: no such file {policy!r} (relative to {app.confdir})")
    if problems:
        raise ConfigError("sphinx-access-checker configuration:\n  " + "\n  ".join(problems))

    # From here on paths are absolute, so that code without the application (directives in
    # parallel workers, post-transforms) can use them as they are.
    config.access_checker_policy = str(Path(app.confdir, policy).resolve()) if policy else str(_PACKAGE_POLICY)
    for name in ("access_checker_node_modules", "access_checker_cache_dir"):
        config[name] = str(Path(app.confdir, config[name]).resolve())
