"""The extension in real Sphinx builds: directives, fallbacks, assets, the wheel, errors."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from sphinx.errors import ConfigError, SphinxError

import access_checker
from access_checker.policy import load_policy
from tests.conftest import TEST_CACHE, copy_site
from tests.site.conftest import DEFAULT_POLICY, BuildFn, Clone, write_project


def _html(app: object, docname: str) -> str:
    return (Path(app.outdir) / f"{docname}.html").read_text()  # type: ignore[attr-defined]


def test_widget_root_carries_the_contract_hooks(make_app: BuildFn) -> None:
    app = make_app("html")
    html = _html(app, "reference/user-access-levels")
    root = re.search(r"<section [^>]*data-access-checker[^>]*>", html)
    assert root, "the widget's root element is missing"
    assert 'data-state="idle"' in root[0]
    # No client id configured: sign-in is hidden and the manual form offered.
    assert 'data-signin="unavailable"' in root[0]
    assert 'data-action="sign-in"' not in html
    assert "<noscript>" in html and "contact support" in html.split("<noscript>")[1]
    assert re.search(r'<script type="module" src="[^"]*/widget\.mjs', html)


def test_assets_are_content_versioned_and_only_the_boot_files_ship(make_app: BuildFn) -> None:
    app = make_app("html")
    static = Path(app.outdir) / "_static" / "access-checker"
    runtime = [p for p in static.iterdir() if p.name.startswith("runtime-")]
    assert len(runtime) == 1
    # The boot files and their .br/.gz siblings; not the lock file, whose info the page passes inline.
    assert sorted(p.name for p in runtime[0].iterdir() if p.suffix not in (".br", ".gz")) == [
        "pyodide.asm.mjs", "pyodide.asm.wasm", "pyodide.mjs", "python_stdlib.zip",
    ]
    policy = load_policy(DEFAULT_POLICY)
    assert (static / f"policy-{policy.version}.toml").read_bytes() == DEFAULT_POLICY.read_bytes()
    html = _html(app, "reference/user-access-levels")
    for attribute in ("data-runtime", "data-wheel", "data-policy"):
        url = re.search(rf'{attribute}="([^"]+)"', html)
        assert url and (Path(app.outdir) / "reference" / url[1]).resolve().exists(), attribute


def test_other_pages_load_no_widget_code(make_app: BuildFn) -> None:
    app = make_app("html")
    html = _html(app, "help/index")
    assert "widget.mjs" not in html and "boxes.mjs" not in html and "access-checker.css" not in html
    assert "boxes.mjs" in _html(app, "howtos/train/index")
    assert "widget.mjs" not in _html(app, "howtos/train/index")


def test_wheel_holds_the_checker_only_and_is_not_rebuilt(make_app: BuildFn, tmp_path: Path) -> None:
    app = make_app("html")
    wheels = list((Path(app.outdir) / "_static" / "access-checker").glob("wheel-*/*.whl"))
    assert len(wheels) == 1 and wheels[0].name.endswith("-py3-none-any.whl")
    with zipfile.ZipFile(wheels[0]) as archive:
        tops = {name.split("/")[0] for name in archive.namelist()}
        assert "access_checker/policies/ai4os.toml" in archive.namelist()
    assert tops == {"access_checker", f"access_checker-{access_checker.__version__}.dist-info"}
    cached = next(TEST_CACHE.glob("static/access-checker/wheel-*/*.whl"))
    before = cached.stat().st_mtime_ns
    make_app("html", freshenv=True)
    assert cached.stat().st_mtime_ns == before, "the wheel was rebuilt although its sources did not change"


def test_text_builder_gets_the_readable_fallback_and_no_assets(make_app: BuildFn) -> None:
    app = make_app("text")
    text = (Path(app.outdir) / "reference" / "user-access-levels.txt").read_text()
    assert "contact support" in text and "helpdesk.cloud.ai4eosc.eu" in text
    train = (Path(app.outdir) / "howtos" / "train" / "index.txt").read_text()
    assert "Requirements" in train and "Full access level" in train
    assert not (Path(app.outdir) / "_static").exists()


def test_requirement_box_names_the_level_and_links_its_section(make_app: BuildFn) -> None:
    app = make_app("html")
    html = _html(app, "howtos/train/index")
    box = re.search(r'<div class="access-requirement access-feature-train access-needs-full[^"]*">(.*?)</div>', html, re.S)
    assert box, "the requirements box is missing"
    assert "Full access level" in box[1]
    assert 'href="../../reference/user-access-levels.html#authentication-full"' in box[1]


def test_policy_edit_changes_every_page_that_shows_the_feature(make_app: BuildFn, tmp_path: Path) -> None:
    edited = tmp_path / "policy.toml"
    text = DEFAULT_POLICY.read_text()
    # Move "train" from full to basic: one edit in the policy, no edit in any page.
    edited.write_text(re.sub(r'(id = "train"\n(?:.*\n)*?level = )"full"', r'\1"basic"', text, count=1))
    assert load_policy(edited).feature("train").level == "basic"
    write_project(tmp_path / "src", edited)
    app = make_app("html")
    assert "access-needs-basic" in _html(app, "howtos/train/index")
    levels = _html(app, "reference/user-access-levels")
    basic = levels.split('access-features-basic')[1].split("</ul>")[0]
    assert "howtos/train/index.html" in basic


def test_unknown_feature_is_a_build_error_naming_file_and_line(make_app: BuildFn, tmp_path: Path) -> None:
    write_project(tmp_path / "src")
    page = tmp_path / "src" / "howtos" / "train" / "index.rst"
    page.write_text(page.read_text().replace("access-requirement:: train", "access-requirement:: trian"))
    with pytest.raises(SphinxError, match=r"howtos/train/index\.rst:\d+: unknown feature 'trian'"):
        make_app("html")


def test_missing_node_modules_stops_the_build_with_the_setup_hint(make_app: BuildFn, tmp_path: Path) -> None:
    write_project(tmp_path / "src", extra_conf=f"access_checker_node_modules = {str(tmp_path / 'nowhere')!r}\n")
    with pytest.raises(SystemExit, match=rf"nowhere.* is missing: run `npm ci` in {re.escape(str(tmp_path))}, then build again"):
        make_app("html")


def test_without_npm_ci_the_plain_build_stops_with_one_line_saying_what_to_run(tmp_path: Path) -> None:
    # The maintainers' plain path (README): sphinx-build in a clone where `npm ci` was not run.
    src = copy_site(tmp_path / "src")
    result = subprocess.run([sys.executable, "-m", "sphinx", "-q", "-b", "html", ".", "_build/html"],
                            cwd=src, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == [f"sphinx-access-checker: {src / 'node_modules' / 'pyodide'} is missing: "
                     f"run `npm ci` in {src}, then build again."]


def test_bad_configuration_is_reported_by_name(make_app: BuildFn, tmp_path: Path) -> None:
    write_project(tmp_path / "src", extra_conf='access_checker_boot_timeout = 0\naccess_checker_oidc_issuer = "http://example.org"\n')
    with pytest.raises(ConfigError) as error:
        make_app("html")
    assert "access_checker_boot_timeout" in str(error.value)
    assert "access_checker_oidc_issuer" in str(error.value)


def test_the_site_ships_bytecode_compiled_by_pyodide(make_app: BuildFn) -> None:
    import importlib.util

    from tests.conftest import NODE_MODULES
    from tests.site.pyodide_probe import pyodide_magic

    app = make_app("html")
    static = Path(app.outdir) / "_static" / "access-checker"
    magic = pyodide_magic(NODE_MODULES)
    assert magic != importlib.util.MAGIC_NUMBER
    with zipfile.ZipFile(next(static.glob("runtime-*/python_stdlib.zip"))) as stdlib:
        names = stdlib.namelist()
        assert not [n for n in names if n.endswith(".py")], "the standard library still ships sources"
        pycs = [n for n in names if n.endswith(".pyc")]
        assert len(pycs) > 200  # trimmed to what the worker loads (tests/site/test_stdlib_trim.py)
        assert all(stdlib.read(n)[:4] == magic for n in pycs)
    with zipfile.ZipFile(next(static.glob("wheel-*/*.whl"))) as wheel:
        sources = [n for n in wheel.namelist() if n.endswith(".py")]
        pycs = {n for n in wheel.namelist() if n.endswith(".pyc")}
        for source in sources:
            pyc = source[:-3] + ".pyc"  # beside its source, where zipimport looks
            assert pyc in pycs, f"{source} has no bytecode"
            assert wheel.read(pyc)[:4] == magic
        assert len(pycs) == len(sources)


def test_an_incremental_build_does_not_copy_the_runtime_again(make_app: BuildFn) -> None:
    app = make_app("html")
    wasm = next((Path(app.outdir) / "_static" / "access-checker").glob("runtime-*/pyodide.asm.wasm"))
    before = wasm.stat().st_mtime_ns
    page = Path(app.srcdir) / "howtos" / "train" / "index.rst"
    page.write_text(page.read_text() + "\nOne more line.\n")
    again = make_app("html")
    assert "One more line." in _html(again, "howtos/train/index")
    assert wasm.stat().st_mtime_ns == before


def test_the_plain_sphinx_build_of_a_clone_builds_the_site(clone: Clone) -> None:
    # README: `sphinx-build -b html . _build/html` after `pip install -r requirements.txt` (which
    # `make setup` runs too) and `npm ci` (tests/site/conftest.py: the clone).
    result = clone.first
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stderr == ""
    assert "data-access-checker" in (clone.out / "reference/user-access-levels.html").read_text()


def test_boxes_link_the_upgrade_section_by_its_label_and_a_missing_label_stops_the_build(
    make_app: BuildFn, tmp_path: Path,
) -> None:
    app = make_app("html")
    train = (app.outdir / "howtos" / "train" / "index.html").read_text()
    assert '<meta name="access-checker-upgrade" content="../../reference/user-access-levels.html#access-upgrade">' in train
    src = tmp_path / "other"
    write_project(src, extra_conf='access_checker_upgrade_label = "no-such-label"\n')
    with pytest.raises(SphinxError, match=r"access_checker_upgrade_label: no label 'no-such-label'"):
        make_app("html", srcdir=src)
