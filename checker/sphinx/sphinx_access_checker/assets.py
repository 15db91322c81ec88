"""The asset pipeline: what the widget needs, staged under content-versioned names.

At ``builder-inited`` (HTML builders only) the extension stages, in its cache folder:

- ``runtime-<pyodide version>-<hash>/``: the Pyodide boot files, verified against the
  committed SHA-256 list (nothing else of the npm package ships; ``pyodide-lock.json`` is
  verified and read, but not shipped: the page passes its ``info``), with the standard library
  precompiled to bytecode by Pyodide's own interpreter (``pycompile``, cached) unless
  ``access_checker_compile`` is off, and trimmed to the modules the checker's worker loads,
  stored without compression (``stdlib_trim``, cached) unless ``access_checker_trim_stdlib`` is off;
- ``wheel-<hash>/access_checker-<version>-py3-none-any.whl``: the browser wheel, sources plus
  a precompiled ``.pyc`` beside each (the page imports the wheel as it is, with zipimport);
- ``policy-<policy version>.toml``: the policy file of record, the bytes the docs render from;
- ``ui-<hash>/``: the widget's own small JS and CSS, and the pinned oauth4webapi module.

Each file the page downloads gets ``.br`` and ``.gz`` siblings (``compress``, cached by content).

The staging folder is added to ``html_static_path``, so Sphinx copies it into ``_static/``
(copying skips files that are already identical); the runtime is copied at build-finished,
only when its content-versioned folder is not in the output yet. Each name changes when its content does,
so every one of them can be cached for a year. Unchanged inputs are not rebuilt or rehashed.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.errors import ConfigError
from sphinx.util import logging

import access_checker
from sphinx_access_checker import compress, pycompile, wheel
from sphinx_access_checker.policy_source import get_policy

logger = logging.getLogger(__name__)

HERE: Final = Path(__file__).resolve().parent
PYODIDE_PINS: Final = HERE / "pyodide-sha256.json"
UI_SOURCES: Final = HERE / "static"
HTML_BUILDERS: Final = ("html", "dirhtml")
PREFIX: Final = "access-checker"
# Verified and read by the build (the page gets its ``info`` as lockFileContents), never requested.
UNSERVED: Final = frozenset({"pyodide-lock.json"})


@dataclass(frozen=True)
class Assets:
    """URLs of the staged assets, relative to the output root."""

    runtime: str
    wheel: str
    policy: str
    policy_version: str
    ui: str
    # The runtime's lock file without its packages: the checker loads none, so the page hands
    # this to Pyodide instead of letting it download the whole file (120 KB).
    lock: str


# Keyed by output folder: visitors and page hooks get the builder, not the application, and
# parallel writers are forked after builder-inited, so they inherit this mapping.
STAGED: dict[str, Assets] = {}


def _short_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:12]


def _npm_ci(node_modules: Path) -> str:
    """The one command that fixes a missing or stale npm package, and where to run it."""
    return f"run `npm ci` in {node_modules.parent}, then build again"


def _setup_hint(path: Path, node_modules: Path) -> str:
    return f"{path} is missing: {_npm_ci(node_modules)}."


def _check_runtime(node_modules: Path) -> tuple[dict[str, Any], Path]:
    pins = json.loads(PYODIDE_PINS.read_text())
    package = node_modules / "pyodide"
    try:
        installed = json.loads((package / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        raise ConfigError(_setup_hint(package, node_modules)) from None
    if installed != pins["version"]:
        raise ConfigError(
            f"{package} is pyodide {installed}, but the site pins {pins['version']}: {_npm_ci(node_modules)}."
        )
    return pins, package


def _stage_runtime(pins: dict[str, Any], package: Path, target_root: Path, stdlib: Path | None) -> str:
    """The boot files; ``stdlib`` replaces the npm python_stdlib.zip (compiled to bytecode, trimmed, or both)."""
    sources = {f: package / f for f in pins["files"]}
    if stdlib is not None:
        sources["python_stdlib.zip"] = stdlib
    # That zip's cache name carries its own content key: no need to hash megabytes again.
    flavour = stdlib.stem if stdlib is not None else "stock"
    key = json.dumps([pins["files"], flavour], sort_keys=True).encode()
    name = f"runtime-{pins['version']}-{_short_hash(key)}"
    target = target_root / name
    stamp = target / ".verified"
    signature = json.dumps({f: [p.stat().st_size, p.stat().st_mtime_ns] for f, p in sources.items() if p.exists()},
                           sort_keys=True)
    if stamp.exists() and stamp.read_text() == signature:
        return name
    target.mkdir(parents=True, exist_ok=True)
    for filename, source in sources.items():
        if not source.is_file():
            raise ConfigError(_setup_hint(source, package.parent))
        # The npm files are checked against the pins; the compiled zip was made from a checked one.
        if source.parent == package and hashlib.sha256(source.read_bytes()).hexdigest() != pins["files"][filename]:
            raise ConfigError(
                f"{source} does not match its pinned SHA-256 (pyodide-sha256.json): {_npm_ci(package.parent)}."
            )
        shutil.copyfile(source, target / filename)
    stamp.write_text(signature)
    return name


def _stage_wheel(target_root: Path, compiled: dict[str, bytes] | None) -> str:
    package_dir = Path(access_checker.__file__).resolve().parent
    # The wheel holds the sources and the compiled bytes: both are in the digest.
    extra = access_checker.__version__.encode() + b"".join(
        name.encode() + b"\0" + data + b"\0" for name, data in sorted((compiled or {}).items()))
    digest = wheel.sources_digest(package_dir, extra)[:12]
    folder = f"wheel-{digest}"
    path = target_root / folder / wheel.wheel_name(access_checker.__version__)
    if not path.exists():
        wheel.build_wheel(package_dir, access_checker.__version__, path, extra_files=compiled)
        logger.info("access-checker: built %s", path.name)
    return f"{folder}/{path.name}"


def _stage_ui(node_modules: Path, target_root: Path) -> str:
    oauth = node_modules / "oauth4webapi" / "build" / "index.js"
    if not oauth.is_file():
        raise ConfigError(_setup_hint(oauth, node_modules))
    # Type declarations serve tsc in the source tree only.
    files = {p.name: p.read_bytes() for p in sorted(UI_SOURCES.iterdir()) if p.is_file() and not p.name.endswith(".d.mts")}
    files["oauth4webapi.mjs"] = oauth.read_bytes()
    digest = hashlib.sha256()
    for filename, data in sorted(files.items()):
        digest.update(filename.encode() + b"\0" + data)
    folder = f"ui-{digest.hexdigest()[:12]}"
    target = target_root / folder
    if not target.is_dir():
        tmp = target_root / f".{folder}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        for filename, data in files.items():
            (tmp / filename).write_bytes(data)
        tmp.replace(target)
    return folder


def _stage_policy(config: Config, target_root: Path) -> tuple[str, str]:
    policy = get_policy(config)
    name = f"policy-{policy.version}.toml"
    target = target_root / name
    if not target.exists():
        target.write_bytes(Path(config.access_checker_policy).read_bytes())
    return name, policy.version


def stage(app: Sphinx) -> None:
    """builder-inited: stage the assets and put the small ones on ``html_static_path``."""
    if app.builder.name not in HTML_BUILDERS:
        return
    config = app.config
    cache = Path(config.access_checker_cache_dir)
    static_root = cache / "static"
    target_root = static_root / PREFIX
    target_root.mkdir(parents=True, exist_ok=True)
    runtime_root = cache / "runtime"
    runtime_root.mkdir(parents=True, exist_ok=True)
    node_modules = Path(config.access_checker_node_modules)

    # Checked before the compile step. A missing or stale npm install is the reader's set-up,
    # not a bug: one line with the command to run, rather than Sphinx's crash report (which
    # it prints for any exception, and which asks the reader to report the error to Sphinx).
    try:
        pins, package = _check_runtime(node_modules)
    except ConfigError as exc:
        raise SystemExit(f"sphinx-access-checker: {exc}") from None
    compiled = None
    if config.access_checker_compile:
        try:
            compiled = pycompile.compile_all(node_modules, cache / "pyc", Path(access_checker.__file__).resolve().parent,
                                             stdlib_sha256=pins["files"]["python_stdlib.zip"])
        except pycompile.CompileError as exc:
            raise ConfigError(str(exc)) from None
    stdlib = compiled.stdlib if compiled else None
    if config.access_checker_trim_stdlib:
        # Only the modules the worker loads (stdlib-modules.txt), from the compiled zip or the npm one.
        # Imported here: stdlib_trim is also a command (python -m), which runpy warns about when
        # the package has imported it already.
        from sphinx_access_checker import stdlib_trim

        try:
            stdlib = stdlib_trim.trim(stdlib or package / "python_stdlib.zip", cache / "stdlib",
                                      source_sha256=None if stdlib else pins["files"]["python_stdlib.zip"])
        except stdlib_trim.TrimError as exc:
            raise ConfigError(str(exc)) from None
    runtime = _stage_runtime(pins, package, runtime_root, stdlib)
    wheel_path = _stage_wheel(target_root, compiled.package if compiled else None)
    policy_name, policy_version = _stage_policy(config, target_root)
    ui = _stage_ui(node_modules, target_root)

    # Only the current generation is copied to the output; older ones stay out of the site.
    static_keep = {wheel_path.split("/")[0], policy_name, *compress.sibling_names(policy_name), ui}
    for root, keep in ((target_root, static_keep), (runtime_root, {runtime})):
        for entry in root.iterdir():
            if entry.name not in keep:
                shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    compress.write_siblings([*compress.originals(runtime_root / runtime, skip=UNSERVED), target_root / wheel_path,
                             target_root / policy_name, *compress.originals(target_root / ui)], cache)

    info = json.loads((package / "pyodide-lock.json").read_text(encoding="utf-8"))["info"]
    base = f"_static/{PREFIX}"
    STAGED[str(app.builder.outdir)] = Assets(
        runtime=f"{base}/{runtime}/", wheel=f"{base}/{wheel_path}", policy=f"{base}/{policy_name}",
        policy_version=policy_version, ui=f"{base}/{ui}/",
        lock=json.dumps({"info": info, "packages": {}}, sort_keys=True, separators=(",", ":")),
    )
    if str(static_root) not in config.html_static_path:
        config.html_static_path.append(str(static_root))


def copy_runtime(app: Sphinx, exception: Exception | None) -> None:
    """build-finished: put the runtime in the output unless this generation is already there.

    The runtime (18 MB) stays off ``html_static_path`` on purpose: Sphinx compares every
    static file with its copy byte by byte on every build. A content-versioned folder that
    exists with the right files needs no comparison and no copy.
    """
    if exception is not None or app.builder.name not in HTML_BUILDERS:
        return
    name = staged(app.builder.outdir).runtime.rstrip("/").rsplit("/", 1)[1]
    source = Path(app.config.access_checker_cache_dir) / "runtime" / name
    target = Path(app.builder.outdir) / "_static" / PREFIX / name
    # What the page may request, and the precompressed siblings; an older output folder that
    # has anything else (the lock file, before it stopped shipping) is copied again.
    files = [p for p in source.iterdir() if not p.name.startswith(".") and p.name not in UNSERVED]
    present = {p.name: p.stat().st_size for p in target.iterdir()} if target.is_dir() else {}
    if present == {p.name: p.stat().st_size for p in files}:
        return
    tmp = target.with_name(f".{name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for path in files:
        shutil.copyfile(path, tmp / path.name)
    shutil.rmtree(target, ignore_errors=True)
    tmp.replace(target)


def staged(outdir: str | Path) -> Assets:
    return STAGED[str(outdir)]


def setup(app: Sphinx) -> None:
    app.connect("builder-inited", stage)
    app.connect("build-finished", copy_runtime)
