"""Subset the theme's web fonts, and write the rules that load them (help/maintainers/accessibility.rst).

sphinx-rtd-theme ships Lato and Roboto Slab whole (Latin, Greek, Cyrillic, Vietnamese, symbols:
about 180 KB per WOFF2 file) and all of FontAwesome 4.7 (700 icons, 76 KB). A page needs a few
of them. This script cuts them down, once, from the installed theme; the results are committed,
so builds need no font tools::

    .venv/bin/python _theme/fonts/build.py          # rewrite the files below
    .venv/bin/python _theme/fonts/build.py --check  # exit 1 if they differ from a fresh build

It writes, under ``_theme/static/`` (Sphinx copies it to ``_static/``):

``webfonts/<family>-<weight><style>-<range>.woff2``
   Lato (4 faces) and Roboto Slab (2 faces), each cut to two fixed ranges (``RANGES``): ``latin``,
   the characters of English text and its punctuation, which every page loads, and ``latin-ext``,
   the rest of the Latin script (accented names, Vietnamese, combining marks), which a browser
   downloads only for a page that shows such a character. The ranges are fixed, not the
   characters of today's pages: a reader's name from the provider, or what they type in the
   form, renders in the same fonts.
``webfonts/fontawesome-subset.woff2``
   FontAwesome cut to the icons the theme's CSS and templates (and ours) use.
``fonts.css``
   The ``@font-face`` rules for all of these, with ``unicode-range`` so that each file loads
   only when a page needs it. Added after the theme's CSS, they take precedence over its rules.
``css/fonts/<theme's name>.woff2``
   For Lato and Roboto Slab: a font with no glyphs, under the theme's own file names, which
   replaces the theme's files in the output. The theme's ``@font-face`` rules cannot be
   removed without forking its CSS; they now apply only to characters outside the two ranges
   (Greek, Cyrillic, CJK...), which fall through to the system fonts of the theme's font
   stack instead of pulling in a 180 KB file.

The output is deterministic (same fonttools, brotli and theme: same bytes). ``--check`` compares
every byte (it subsets everything again: about a minute); tests/site/test_reader_features.py
checks the quick part on every run: that fonts.css is what this script writes for the installed
theme and its templates (version, ranges, icons) and that every file it names is there.
After upgrading sphinx-rtd-theme, run the script and commit what changed.
"""

from __future__ import annotations

import argparse
import io
import logging
import re
import sys
from collections.abc import Iterable
from pathlib import Path

import sphinx_rtd_theme
from fontTools import subset
from fontTools.ttLib import TTFont

HERE = Path(__file__).resolve().parent
STATIC = HERE.parent / "static"
TEMPLATES = HERE.parent / "templates"
THEME = Path(sphinx_rtd_theme.__file__).resolve().parent
THEME_FONTS = THEME / "static" / "css" / "fonts"
THEME_CSS = THEME / "static" / "css" / "theme.css"


def _parse(ranges: str) -> frozenset[int]:
    points: set[int] = set()
    for part in ranges.replace(" ", "").split(","):
        first, _, last = part.removeprefix("U+").partition("-")
        points.update(range(int(first, 16), int(last or first, 16) + 1))
    return frozenset(points)


# English text and its punctuation: ASCII and Latin-1, the typographic marks of General
# Punctuation (dashes, quotes, ellipsis, bullets), and the few symbols the pages use in text
# (arrows, minus, less/greater than or equal, euro, trade mark).
LATIN = _parse(
    "U+0000-00FF, U+0131, U+0152-0153, U+02C6, U+02DA, U+02DC, U+2000-206F, U+20AC, U+2122, "
    "U+2190-2199, U+2212, U+2215, U+2264-2265, U+FEFF, U+FFFD"
)
# The rest of the Latin script: Extended-A and -B, IPA and spacing modifiers, combining marks
# (names typed or sent decomposed), Extended Additional (Vietnamese among others), -C, -D,
# and currency signs.
LATIN_EXT = _parse("U+0100-036F, U+1D00-1DBF, U+1E00-1EFF, U+20A0-20CF, U+2C60-2C7F, U+A720-A7FF") - LATIN
RANGES: dict[str, frozenset[int]] = {"latin": LATIN, "latin-ext": LATIN_EXT}

# (family in CSS, weight, style, the theme's file name without extension)
FACES = (
    ("Lato", 400, "normal", "lato-normal"),
    ("Lato", 700, "normal", "lato-bold"),
    ("Lato", 400, "italic", "lato-normal-italic"),
    ("Lato", 700, "italic", "lato-bold-italic"),
    ("Roboto Slab", 400, "normal", "Roboto-Slab-Regular"),
    ("Roboto Slab", 700, "normal", "Roboto-Slab-Bold"),
)
ICON_FONT = "fontawesome-webfont"
# FontAwesome's class for each icon: `.fa-home:before{content:"\f015"}` (also in selector lists).
_RULE = re.compile(r"([^{}]+)\{[^{}]*?content:\s*\"(?:\\([0-9a-fA-F]{4})|([\ue000-\uf8ff]))\"")
_ICON_CLASS = re.compile(r"\.(?:fa|icon)-[a-z0-9-]+:before")
_USED_CLASS = re.compile(r"\b(?:fa|icon)-[a-z0-9-]+\b")


def _options(*, hinting: bool = True) -> subset.Options:
    options = subset.Options()
    options.flavor = "woff2"
    options.hinting = hinting
    options.notdef_outline = True
    options.recalc_timestamp = False  # keep the source's: the same input gives the same bytes
    options.name_IDs = [0, 1, 2, 3, 4, 5, 6, 13, 14]  # keep the copyright and licence (OFL)
    return options


def _subset(source: Path, unicodes: Iterable[int], *, hinting: bool = True) -> bytes:
    font = TTFont(source, recalcTimestamp=False)  # head.modified from the source: same input, same bytes
    subsetter = subset.Subsetter(_options(hinting=hinting))
    subsetter.populate(unicodes=sorted(unicodes))
    subsetter.subset(font)
    font.flavor = "woff2"
    out = io.BytesIO()
    font.save(out)
    return out.getvalue()


def icon_codepoints() -> dict[int, str]:
    """The icons the theme's CSS rules and the templates (the theme's and ours) use: code point -> why."""
    css = THEME_CSS.read_text(encoding="utf-8")
    by_class: dict[str, int] = {}
    used: dict[int, str] = {}
    for selectors, escaped, literal in _RULE.findall(css):
        point = int(escaped, 16) if escaped else ord(literal)
        for selector in (s.strip() for s in selectors.split(",")):
            if _ICON_CLASS.fullmatch(selector):
                by_class[selector[1:].removesuffix(":before")] = point
            elif selector:
                # A rule of the theme's own components (admonitions, header links, the menu).
                used.setdefault(point, selector)
    # The theme makes Sphinx write this icon as the text of every heading's permalink.
    permalink = re.search(r'html_permalinks_icon = "\\u([0-9a-fA-F]{4})"', (THEME / "__init__.py").read_text(encoding="utf-8"))
    if permalink:
        used.setdefault(int(permalink[1], 16), "html_permalinks_icon")
    templates = [*THEME.glob("*.html"), *TEMPLATES.glob("*.html")]
    for template in templates:
        for name in _USED_CLASS.findall(template.read_text(encoding="utf-8")):
            if name in by_class:
                used.setdefault(by_class[name], f"{template.name}: {name}")
    return dict(sorted(used.items()))


def _css_ranges(points: frozenset[int]) -> str:
    spans: list[tuple[int, int]] = []
    for point in sorted(points):
        if spans and spans[-1][1] == point - 1:
            spans[-1] = (spans[-1][0], point)
        else:
            spans.append((point, point))
    return ", ".join(f"U+{a:04X}" if a == b else f"U+{a:04X}-{b:04X}" for a, b in spans)


ICON_FILE = Path("webfonts") / "fontawesome-subset.woff2"


def face_file(family: str, weight: int, style: str, range_name: str) -> Path:
    """Where a subset goes, under _theme/static."""
    slug = f"{family.lower().replace(' ', '-')}-{weight}{'italic' if style == 'italic' else ''}"
    return Path("webfonts") / f"{slug}-{range_name}.woff2"


def stylesheet() -> str:
    """fonts.css: the @font-face rules of every subset (cheap: no font is read)."""
    rules = [
        f'@font-face {{\n  font-family: "{family}";\n  font-style: {style};\n  font-weight: {weight};\n'
        f'  font-display: swap;\n  src: url("{face_file(family, weight, style, range_name).as_posix()}") format("woff2");\n'
        f"  unicode-range: {_css_ranges(points)};\n}}"
        for family, weight, style, _theme_name in FACES
        for range_name, points in RANGES.items()
    ]
    rules.append(
        '@font-face {\n  font-family: "FontAwesome";\n  font-style: normal;\n  font-weight: 400;\n'
        f'  font-display: block;\n  src: url("{ICON_FILE.as_posix()}") format("woff2");\n}}'
    )
    header = (
        f"/* Written by _theme/fonts/build.py from sphinx-rtd-theme {sphinx_rtd_theme.__version__}: do not edit.\n"
        " * Lato and Roboto Slab in two fixed ranges, FontAwesome cut to the icons in use:\n"
        f" * {', '.join(f'U+{p:04X}' for p in icon_codepoints())}.\n"
        " * Characters outside the ranges fall back to the system fonts of the theme's stacks. */\n"
    )
    return header + "\n".join(rules) + "\n"


def build() -> dict[Path, bytes]:
    """Every output file (path under _theme/static) and its bytes."""
    files: dict[Path, bytes] = {}
    for family, weight, style, theme_name in FACES:
        source = THEME_FONTS / f"{theme_name}.woff2"
        for range_name, points in RANGES.items():
            files[face_file(family, weight, style, range_name)] = _subset(source, points)
        # The theme's own file name: a font with no glyph but the space.
        files[Path("css") / "fonts" / f"{theme_name}.woff2"] = _subset(source, [0x20], hinting=False)
    files[ICON_FILE] = _subset(THEME_FONTS / f"{ICON_FONT}.woff2", icon_codepoints())
    files[Path("fonts.css")] = stylesheet().encode()
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed files; write nothing")
    args = parser.parse_args(argv)
    logging.getLogger("fontTools").setLevel(logging.ERROR)  # "FFTM NOT subset": a timestamp table, dropped
    files = build()
    generated = {STATIC / "fonts.css", *STATIC.glob("webfonts/*.woff2"), *STATIC.glob("css/fonts/*.woff2")}
    if args.check:
        stale = sorted(str(p.relative_to(HERE.parent)) for p in generated if p.relative_to(STATIC) not in files)
        differ = sorted(str(n) for n, data in files.items() if not (STATIC / n).is_file() or (STATIC / n).read_bytes() != data)
        for old in stale:
            print(f"not written by the build any more: {old}")
        for new in differ:
            print(f"missing or out of date: _theme/static/{new}")
        if stale or differ:
            print("Run: .venv/bin/python _theme/fonts/build.py")
            return 1
        print(f"{len(files)} font files up to date")
        return 0
    for path in generated:
        if path.relative_to(STATIC) not in files:
            path.unlink()
    for path, data in sorted(files.items()):
        (STATIC / path).parent.mkdir(parents=True, exist_ok=True)
        (STATIC / path).write_bytes(data)
        print(f"{len(data) / 1000:7.1f} KB  _theme/static/{path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
