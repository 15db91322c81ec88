"""Sphinx configuration of the AI4OS documentation. Declarative: settings only."""

import os

# -- Project ------------------------------------------------------------------------------
project = "AI4OS"
author = "The AI4OS team"
copyright = "2026, The AI4OS team"
language = "en"

# -- Sources ------------------------------------------------------------------------------
# Only the landing page and the four sections enter the build; the README, tooling folders,
# virtual environments and node_modules never do.
include_patterns = [
    "index.rst",
    "getting-started/**",
    "reference/**",
    "howtos/**",
    "help/**",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"

# -- Extensions ---------------------------------------------------------------------------
extensions = [
    "myst_parser",
    "sphinx_access_checker",
]
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

# -- Strictness ---------------------------------------------------------------------------
# Every build is nitpicky (as `-n`), here and on Read the Docs; `-W` comes from the command
# line (`make html`) or .readthedocs.yaml (fail_on_warning).
nitpicky = True

# -- HTML output --------------------------------------------------------------------------
html_theme = "sphinx_rtd_theme"
html_title = "AI4OS documentation"
html_theme_options = {
    "navigation_depth": 3,
    "collapse_navigation": False,
}
html_static_path: list[str] = []
# A favicon of our own also spares every page a 404 for /favicon.ico.
html_favicon = "_theme/favicon.svg"
html_show_sourcelink = False
html_copy_source = False

# -- Access checker (sphinx_access_checker) -----------------------------------------------
# The policy of record: the docs render level names, features and requirement boxes from it,
# and the in-page checker evaluates with the same file.
access_checker_policy = "checker/core/access_checker/policies/ai4os.toml"
access_checker_boot_timeout = 60
# Sign-in. The client id stays empty until the site is registered with the provider (which
# hides sign-in and offers the manual request form). `make serve` and the tests set these
# variables to use the local demo provider.
access_checker_oidc_issuer = os.environ.get(
    "ACCESS_CHECKER_OIDC_ISSUER", "https://login.cloud.ai4eosc.eu/realms/ai4eosc"
)
access_checker_oidc_client_id = os.environ.get("ACCESS_CHECKER_OIDC_CLIENT_ID", "")
access_checker_oidc_scopes = os.environ.get(
    "ACCESS_CHECKER_OIDC_SCOPES", "openid profile email eduperson_entitlement"
)
access_checker_oidc_redirect_page = "reference/user-access-levels"
access_checker_oidc_post_logout_page = "reference/user-access-levels"

# -- Link check ---------------------------------------------------------------------------
linkcheck_timeout = 15
linkcheck_retries = 2
