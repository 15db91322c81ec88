"""What readers get besides the pages (help/maintainers/accessibility.rst), in the built site.

Link previews and a meta description on every page; a 404 page whose links work at any depth,
at the site root and under a host's prefix; a sitemap and robots.txt once the site has an
address; copy buttons that leave prompts and output out; code blocks that take the focus; no
inline style (the Content-Security-Policy refuses them); and the subset web fonts.
"""

from __future__ import annotations

import html
import importlib.util
import json
import re
import subprocess
from pathlib import Path
from types import ModuleType
from xml.etree import ElementTree

import pytest

from tests.conftest import REPO, sphinx_build

NOT_CONTENT = {"404.html", "genindex.html", "search.html"}
_META = re.compile(r'<meta (?:name|property)="([^"]+)" content="([^"]*)"')
_REFS = re.compile(r'\b(?:href|src)="([^"#?]*)[^"]*"')
FONTS = REPO / "_theme" / "fonts"


def _content_pages(site: Path) -> list[str]:
    """The documentation's pages, as paths from the site root (not the index, search and 404 pages)."""
    return sorted(rel for rel in (p.relative_to(site).as_posix() for p in site.rglob("*.html"))
                  if rel.split("/")[0] not in ("_static", "_bench") and rel not in NOT_CONTENT)


def _meta(page: Path) -> dict[str, str]:
    return {name: html.unescape(value) for name, value in _META.findall(page.read_text(encoding="utf-8"))}


def _local_refs(page: Path) -> list[str]:
    return [ref for ref in _REFS.findall(page.read_text(encoding="utf-8"))
            if ref and not ref.startswith(("http://", "https://", "data:", "mailto:"))]


def _font_module() -> ModuleType:
    """_theme/fonts/build.py, loaded under a name of its own."""
    spec = importlib.util.spec_from_file_location("ai4os_font_build", FONTS / "build.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---- the local build (no address) ---------------------------------------------------------------


def test_every_page_has_a_description_and_a_link_preview(built_site: Path) -> None:
    pages = _content_pages(built_site)
    assert len(pages) >= 20
    for name in pages:
        meta = _meta(built_site / name)
        assert len(meta.get("description", "")) >= 40, (name, meta.get("description"))
        assert meta["og:description"] == meta["description"], name
        assert meta["og:title"] and meta["og:site_name"] == "AI4OS documentation", name
        assert meta["og:type"] == "website", name


def test_without_an_address_there_is_no_sitemap_and_robots_txt_allows_all(built_site: Path) -> None:
    assert not (built_site / "sitemap.xml").exists()
    assert (built_site / "robots.txt").read_text() == "User-agent: *\nAllow: /\n"


def test_the_404_page_links_from_the_root_and_everything_it_links_exists(built_site: Path) -> None:
    page = built_site / "404.html"
    assert "<h1>Page not found</h1>" in page.read_text()
    refs = _local_refs(page)
    assert len(refs) >= 20
    for ref in refs:
        assert ref.startswith("/"), ref
        assert (built_site / ref.lstrip("/")).is_file(), ref


def test_code_blocks_take_the_focus_and_pages_carry_no_inline_style(built_site: Path) -> None:
    blocks = 0
    for name in _content_pages(built_site) + sorted(NOT_CONTENT):
        text = (built_site / name).read_text(encoding="utf-8")
        assert ' style="' not in text, name  # style-src 'self': the browser would refuse it
        assert '<div class="highlight"><pre>' not in text, name
        blocks += text.count('<div class="highlight"><pre tabindex="0">')
    assert blocks >= 20


def test_copy_buttons_copy_the_commands_without_prompts_or_output(built_site: Path) -> None:
    """The site's prompt settings (conf.py), run by sphinx-copybutton's own function under Node."""
    script = (built_site / "_static" / "copybutton.js").read_text()
    settings = re.search(r"return formatCopyText\(text, (.*)\)\n", script)
    assert settings, "copybutton.js no longer calls formatCopyText as expected"
    funcs = (built_site / "_static" / "copybutton_funcs.js").as_uri()
    cases = {
        "$ make html\nbuilding...\nbuild succeeded.\n$ make test\n": "make html\nmake test",
        "$ docker run --rm \\\n    -p 8888:8888 \\\n    ai4oshub/ai4os-demo-app\nStarting...\n":
            "docker run --rm \\\n    -p 8888:8888 \\\n    ai4oshub/ai4os-demo-app",
        ">>> 1 + 1\n2\n>>> for x in y:\n...     print(x)\n": "1 + 1\nfor x in y:\n    print(x)",
        "make html\nmake test\n": "make html\nmake test",  # no prompts: the whole block
    }
    program = (f"import {{ formatCopyText }} from {json.dumps(funcs)};\n"
               f"const cases = {json.dumps(list(cases))};\n"
               f"console.log(JSON.stringify(cases.map(text => formatCopyText(text, {settings[1]}))));")
    result = subprocess.run(["node", "--input-type=module", "-e", program], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == list(cases.values())


# ---- web fonts ------------------------------------------------------------------------------


def test_the_font_subsets_are_up_to_date_and_replace_the_themes_fonts(built_site: Path) -> None:
    build = _font_module()
    css = (REPO / "_theme" / "static" / "fonts.css").read_text()
    # What _theme/fonts/build.py writes for the installed theme and the templates: run it if not.
    assert css == build.stylesheet(), "fonts.css is stale: run .venv/bin/python _theme/fonts/build.py"
    urls = re.findall(r'url\("([^"]+)"\)', css)
    assert len(urls) == 13
    for url in urls:
        assert (built_site / "_static" / url).stat().st_size > 1000, url
    # The theme's own @font-face rules load these: a glyph-less font each, not the 180 KB original.
    for theme_file in (built_site / "_static" / "css" / "fonts").glob("*.woff2"):
        if not theme_file.name.startswith("fontawesome"):
            assert theme_file.stat().st_size < 2000, theme_file.name
    # An ordinary page loads the Latin subsets: three text faces and the icons, under 75 KB.
    latin = [built_site / "_static" / url for url in urls if url.endswith("-latin.woff2")]
    assert sum(p.stat().st_size for p in latin if re.search(r"lato-(400|700)-|roboto-slab-700", p.name)) < 70_000


# ---- hosted builds: Read the Docs, and another host under a prefix ----------------------------

HOSTS = {
    "readthedocs": ({"READTHEDOCS": "True", "READTHEDOCS_CANONICAL_URL": "https://ai4os.readthedocs.io/en/latest/"}, ()),
    "other-host": ({}, ("-D", "html_baseurl=https://docs.example.org/ai4os")),
}


@pytest.mark.parametrize("host", list(HOSTS))
def test_a_hosted_build_has_a_sitemap_robots_txt_previews_and_a_404_page_under_its_prefix(
    host: str, tmp_path: Path
) -> None:
    env, extra = HOSTS[host]
    base = {"readthedocs": "https://ai4os.readthedocs.io/en/latest/", "other-host": "https://docs.example.org/ai4os/"}[host]
    prefix = "/" + base.split("/", 3)[3]
    out = tmp_path / "html"
    result = sphinx_build(REPO, out, env=env, extra=extra)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert "WARNING" not in result.stderr, result.stderr[-3000:]

    pages = _content_pages(out)
    tree = ElementTree.parse(out / "sitemap.xml")
    locs = [el.text for el in tree.getroot().iter("{http://www.sitemaps.org/schemas/sitemap/0.9}loc")]
    assert locs == sorted(base + name for name in pages)  # every content page, in a stable order
    assert (out / "robots.txt").read_text() == f"User-agent: *\nAllow: /\nSitemap: {base}sitemap.xml\n"

    meta = _meta(out / "howtos" / "train" / "index.html")
    assert meta["og:url"] == base + "howtos/train/index.html"
    assert f'<link rel="canonical" href="{base}howtos/train/index.html" />' in (out / "howtos" / "train" / "index.html").read_text()

    refs = _local_refs(out / "404.html")
    assert len(refs) >= 20
    for ref in refs:
        assert ref.startswith(prefix), ref
        assert (out / ref.removeprefix(prefix)).is_file(), ref
