"""The glue of the reader features (help/maintainers/accessibility.rst) that settings alone cannot do.

The extensions do the work: sphinx-copybutton, sphinx-notfound-page, sphinxext-opengraph and
sphinx-sitemap. This module only

- adds the site's ``reader_features_static`` folder (``_theme/static``: fonts.css, reader.css,
  reader.js, the subset fonts) to the web builds,
  after the theme's stylesheet; not to the e-book, which has a theme of its own and would pack
  fonts that nothing uses;
- derives what depends on the site's public address from one setting, ``html_baseurl`` (Read
  the Docs sets it through ``READTHEDOCS_CANONICAL_URL``; another host passes
  ``-D html_baseurl=https://host/prefix/``): the 404 page's URL prefix, the address in link
  previews, and the sitemap, which is built only when there is an address, so that local and
  test builds stay free of its warning;
- orders the sitemap by address: pages are written in any order under ``-j``, and a parallel
  build must write the same files as a serial one;
- writes ``robots.txt``, naming the sitemap when there is one;
- leaves out of HTML the column widths of tables with ``:widths:``: docutils writes them as
  ``style`` attributes, which the site's Content-Security-Policy (``style-src 'self'``) refuses,
  with an error in the console on every visit. Browsers size such tables by their content
  anyway; the PDF keeps the widths.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.config import Config

HTML_BUILDERS = ("html", "dirhtml")
WEB_BUILDERS = (*HTML_BUILDERS, "singlehtml")
_URL = re.compile(r"<url>.*?</url>", re.S)
_LOC = re.compile(r"<loc>(.*?)</loc>")


def base_url(config: Config) -> str:
    """The site's public address, ending with a slash; empty when the build has none."""
    base = str(config.html_baseurl or "")
    return base if not base or base.endswith("/") else base + "/"


def _configure(app: Sphinx, config: Config) -> None:
    base = base_url(config)
    if config.notfound_urls_prefix is None:
        # Absolute links on the 404 page, so that it works at any depth: /en/latest/ on Read the
        # Docs, the address's path elsewhere, "/" for a site served from the root.
        config.notfound_urls_prefix = urlsplit(base).path or "/"
    if base:
        config.ogp_site_url = config.ogp_site_url or base
        app.setup_extension("sphinx_sitemap")
        config.site_url = base


def _web_assets(app: Sphinx) -> None:
    if app.builder.name not in WEB_BUILDERS:
        return
    # The site's own folder (conf.py's reader_features_static), not this package's.
    app.config.html_static_path.append(str(Path(app.confdir, app.config.reader_features_static)))
    app.add_css_file("fonts.css")
    app.add_css_file("reader.css")
    app.add_js_file("reader.js", defer="defer")


def _auto_column_widths(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    if app.builder.format != "html":
        return
    for table in doctree.findall(nodes.table):
        if "colwidths-given" in table["classes"]:
            table["classes"] = [c for c in table["classes"] if c != "colwidths-given"] + ["colwidths-auto"]


def _finish(app: Sphinx, exception: BaseException | None) -> None:
    if exception is not None or app.builder.name not in HTML_BUILDERS:
        return
    outdir = Path(app.outdir)
    base = base_url(app.config)
    sitemap = outdir / app.config.sitemap_filename if base else None
    if sitemap is not None and sitemap.is_file():
        text = sitemap.read_text(encoding="utf-8")
        urls = _URL.findall(text)
        if urls:
            ordered = sorted(urls, key=lambda url: _LOC.findall(url)[0])
            start, end = text.index(urls[0]), text.rindex(urls[-1]) + len(urls[-1])
            sitemap.write_text(text[:start] + "".join(ordered) + text[end:], encoding="utf-8")
    lines = ["User-agent: *", "Allow: /"]
    if sitemap is not None and sitemap.is_file():
        lines.append(f"Sitemap: {base}{app.config.sitemap_filename}")
    (outdir / "robots.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_config_value("reader_features_static", "_theme/static", "html", str)
    app.connect("config-inited", _configure)
    app.connect("builder-inited", _web_assets)
    app.connect("doctree-resolved", _auto_column_widths)
    # After sphinx-sitemap has written the sitemap (its handler runs at the default priority).
    app.connect("build-finished", _finish, priority=900)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
