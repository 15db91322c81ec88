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
The small files' siblings are written at once. The runtime's, when the cache lacks some (about
a minute of brotli on a cold cache), are written by a thread that starts with builder-inited
and goes on while the compile step runs and Sphinx reads and writes the pages; build-finished
waits for it before it copies the runtime (:class:`RuntimeCompression`).

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
from sphinx_access_checker.runtime_compression import RUNTIME_GROUP, RuntimeCompression

logger = logging.getLogger(__name__)

HERE: Final = Path(__file__).resolve().parent
PYODIDE_PINS: Final = HERE / "pyodide-sha256.json"
UI_SOURCES: Final = HERE / "static"
HTML_BUILDERS: Final = ("html", "dirhtml")
PREFIX: Final = "access-checker"
# Verified and read by the build (the page gets its ``info`` as lockFileContents), never requested.
UNSERVED: Final = frozenset({"pyodide-lock.json"})
# The compression cache's group of the small files, compressed at once (the runtime's is
# compressed in the background: runtime_compression). Each group keeps to its own entries.
STATIC_GROUP: Final = "static"


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


# Running compressions, keyed by output folder (copy_runtime waits for its build's own).
_COMPRESSING: dict[str, tuple[Path, RuntimeCompression]] = {}


def _wait_for_earlier(cache: Path, outdir: str) -> None:
    """An earlier build in this process that failed before build-finished may have left its
    thread running: wait for it before using the same cache or output folder (its error was
    that build's to report)."""
    for key, (other_cache, job) in list(_COMPRESSING.items()):
        if other_cache == cache or key == outdir:
            del _COMPRESSING[key]
            job.join()


def _compress_in_background(outdir: str, cache: Path, head_start: list[Path]) -> RuntimeCompression:
    """Start the runtime's compression thread for this build (copy_runtime waits for it)."""
    job = RuntimeCompression(head_start, cache)
    _COMPRESSING[outdir] = (cache, job)
    return job


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


def _stage_files(config: Config, pins: dict[str, Any], package: Path, cache: Path) -> tuple[str, str, str, str, str]:
    """Compile, trim and stage everything; returns the runtime folder's name, the wheel's path,
    the policy's file name and version, and the ui folder's name."""
    node_modules = Path(config.access_checker_node_modules)
    target_root = cache / "static" / PREFIX
    runtime_root = cache / "runtime"
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
    return runtime, wheel_path, policy_name, policy_version, ui


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
    outdir = str(app.builder.outdir)
    _wait_for_earlier(cache, outdir)

    # Checked before the compile step. A missing or stale npm install is the reader's set-up,
    # not a bug: one line with the command to run, rather than Sphinx's crash report (which
    # it prints for any exception, and which asks the reader to report the error to Sphinx).
    try:
        pins, package = _check_runtime(node_modules)
    except ConfigError as exc:
        raise SystemExit(f"sphinx-access-checker: {exc}") from None

    # The npm boot files that every runtime ships as they are: when the cache lacks their
    # compressed copies (looked up by their pinned digests), brotli starts on them now, in the
    # background, while the compile step below runs (see RuntimeCompression).
    boot_files = {name: digest for name, digest in pins["files"].items()
                  if name not in UNSERVED and name != "python_stdlib.zip"}
    background = None
    if app.parallel <= 1 and not compress.cached(boot_files.values(), cache, group=RUNTIME_GROUP):
        background = _compress_in_background(outdir, cache, [package / name for name in sorted(boot_files)])
    try:
        runtime, wheel_path, policy_name, policy_version, ui = _stage_files(config, pins, package, cache)
        runtime_work = compress.Siblings(compress.originals(runtime_root / runtime, skip=UNSERVED), cache,
                                         group=RUNTIME_GROUP)
    except BaseException:
        if background is not None:
            background.hand(None)
        raise
    if background is None and runtime_work.missing and app.parallel <= 1:
        background = _compress_in_background(outdir, cache, [])  # only the stdlib (or another staged file) changed
    if background is not None:
        logger.info("access-checker: compressing the runtime with brotli and gzip in the background while Sphinx "
                    "builds the pages (once: the results are cached)")
        background.hand(runtime_work)
    else:
        compress.finish(runtime_work)  # with -j, or from the cache (nothing to compress)
    # Sphinx copies these with html_static_path, before build-finished: written now (a second
    # or two on a cold cache).
    compress.write_siblings([target_root / wheel_path, target_root / policy_name, *compress.originals(target_root / ui)],
                            cache, group=STATIC_GROUP)

    info = json.loads((package / "pyodide-lock.json").read_text(encoding="utf-8"))["info"]
    base = f"_static/{PREFIX}"
    STAGED[outdir] = Assets(
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
        return  # a compression still running is waited for by the next build (_wait_for_earlier)
    running = _COMPRESSING.pop(str(app.builder.outdir), None)
    if running is not None:
        running[1].wait()
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
