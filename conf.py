"""Sphinx configuration of the AI4OS documentation. Declarative: settings only."""

import os

# -- Project ------------------------------------------------------------------------------
project = "AI4OS"
author = "The AI4OS team"
copyright = "2026, The AI4OS team"
language = "en"
# The docs follow the platform as it is, not releases of their own: the version is the one
# Read the Docs serves (latest, stable), or "latest" in a local build. EPUB needs one.
version = release = os.environ.get("READTHEDOCS_VERSION_NAME", "latest")

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
    "sphinx_copybutton",
    "notfound.extension",
    "sphinxext.opengraph",
    "reader_features",
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
# The site's public address: Read the Docs sets it for each version it serves. Print and
# e-book formats use it to tell readers where the interactive checker runs.
html_baseurl = os.environ.get("READTHEDOCS_CANONICAL_URL", "")

# -- Reader features ----------------------------------------------------------------------
# What the web version gives readers besides the pages, each from the ecosystem's extension:
# copy buttons on code blocks, a 404 page, link previews and a meta description, a sitemap and
# robots.txt; and the theme made accessible and light through its supported routes (_theme/:
# a stylesheet, template blocks, subset fonts). help/maintainers/accessibility.rst says why.
# The reader_features extension (checker/sphinx/reader_features) adds _theme/static to the web
# builds (html, dirhtml, singlehtml; not the e-book, whose theme has its own fonts): fonts.css
# (written by _theme/fonts/build.py), reader.css and reader.js, after the theme's own. It also
# derives what needs the site's address from html_baseurl (above): the 404 page's prefix, link
# previews' addresses, the sitemap (built only with an address).
templates_path = ["_theme/templates"]
# The footer's credit line moves inside its landmark (_theme/templates/footer.html).
html_show_sphinx = False
# Copy buttons copy the commands, not the prompts or the output: when a block has prompts,
# only the lines with one are copied, without it (with their continuation lines).
copybutton_prompt_text = r">>> |\.\.\. |\$ |In \[\d*\]: | {2,5}\.\.\.: | {5,8}: "
copybutton_prompt_is_regexp = True
copybutton_line_continuation_character = "\\"
copybutton_here_doc_delimiter = "EOF"
# 404.html: _theme/templates/404.html. None: the path of html_baseurl, or "/" (reader_features);
# a host that serves the site under a path without an address: -D notfound_urls_prefix=/docs/.
notfound_template = "404.html"
notfound_context = {"title": "Page not found"}
notfound_urls_prefix = None
# Link previews and <meta name="description">: from the page's first paragraph, or from its
# `:og:description:` field.
ogp_site_name = html_title
ogp_social_cards = {"enable": False}
# The sitemap lists the pages a search engine should show.
sitemap_url_scheme = "{link}"
sitemap_excludes = ["404.html", "404/", "genindex.html", "genindex/", "search.html", "search/"]
# The PDF (Read the Docs' formats, `make pdf`): the pages use characters (≤, →) that pdflatex
# rejects.
latex_engine = "xelatex"

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

# -- Link check ---------------------------------------------------------------------------
linkcheck_timeout = 15
linkcheck_retries = 2

# -- Hostnames ----------------------------------------------------------------------------
# Every AI4OS address the pages show comes from this one list, so that a service that moves
# is fixed here once and not hunted down page by page. Each entry becomes a substitution,
# |name| in .rst pages and {{name}} in MyST pages, that shows the address as a link; .rst
# pages also get a link target, `text <name_>`__, for a link with words of its own. Code
# samples cannot use substitutions and type the address; tests/site/test_hostnames.py fails
# on any AI4OS host in a page source or the built HTML that is not in this list.
ai4os_urls = {
    # Dashboards, one for each project that runs the stack.
    "dashboard": "https://dashboard.cloud.ai4eosc.eu",
    "dashboard_imagine": "https://dashboard.cloud.imagine-ai.eu",
    "dashboard_ai4life": "https://ai4life.cloud.ai4eosc.eu",
    "dashboard_kmd4eosc": "https://kmd4eosc.cloud.ai4eosc.eu",
    "dashboard_tutorials": "https://tutorials.cloud.ai4eosc.eu",
    # Sign-in: the AI4OS Keycloak, and EGI Check-in (its demo and development instances
    # are named on the maintainers' sign-in page).
    "login": "https://login.cloud.ai4eosc.eu/realms/ai4eosc",
    "login_account": "https://login.cloud.ai4eosc.eu/realms/ai4eosc/account",
    "egi_checkin": "https://aai.egi.eu",
    "egi_checkin_demo": "https://aai-demo.egi.eu",
    "egi_checkin_dev": "https://aai-dev.egi.eu",
    # Working with models.
    "storage": "https://share.cloud.ai4eosc.eu",
    "llm_chat": "https://chat.cloud.ai4eosc.eu",
    "llm_api": "https://vllm.cloud.ai4eosc.eu",
    "oscar": "https://inference.cloud.ai4eosc.eu",
    "oscar_imagine": "https://inference-walton.cloud.imagine-ai.eu",
    "mlflow": "https://mlflow.cloud.ai4eosc.eu",
    "mlflow_signup": "https://mlflow.cloud.ai4eosc.eu/signup",
    "mlflow_imagine": "https://mlflow.cloud.imagine-ai.eu",
    "driftwatch": "https://drift-watch.cloud.ai4eosc.eu",
    "registry": "https://registry.cloud.ai4eosc.eu",
    "templates": "https://templates.cloud.ai4eosc.eu",
    "im": "https://im.egi.eu",
    # Support and policies.
    "helpdesk": "https://helpdesk.cloud.ai4eosc.eu",
    "community": "https://community.cloud.ai4eosc.eu",
    "status": "https://status.ai4eosc.eu",
    "acceptable_use": "https://ai4eosc.eu/platform/acceptable-use-policy/",
    "privacy": "https://ai4eosc.eu/platform/privacy-policy/",
    # Project homepages.
    "home_ai4os": "https://ai4os.eu/",
    "home_ai4eosc": "https://ai4eosc.eu/",
    "home_imagine": "https://imagine-ai.eu/",
    "home_ai4life": "https://ai4life.eurobioimaging.eu/",
    "home_kmd4eosc": "https://kmd4eosc.pl/",
}
# The support mailing list: not a web address, but named in one place like the others.
ai4os_support_email = "ai4eosc-support@listas.csic.es"

rst_epilog = globals().get("rst_epilog", "") + "".join(
    f"\n.. |{name}| replace:: {url}\n.. _{name}: {url}\n" for name, url in ai4os_urls.items()
) + f"\n.. |support_email| replace:: {ai4os_support_email}\n"
myst_enable_extensions = [*myst_enable_extensions, "substitution"]
myst_substitutions = {name: f"<{url}>" for name, url in ai4os_urls.items()} | {
    "support_email": f"<{ai4os_support_email}>",
}
