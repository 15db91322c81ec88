"""Precompressed siblings: ``<file>.br`` and ``<file>.gz`` beside each file the page downloads.

Why: the Python runtime is most of what a reader of the access page downloads, and a host that
compresses on the fly does it at a fast setting, if at all (gzip -6 takes Pyodide's 9.6 MB
WebAssembly to about 3.5 MB). Brotli at its best quality takes it to about 2.7 MB, but costs
about a minute of CPU: far too slow for a request. So the build compresses once, writes the
results beside the files, and a host that serves precompressed siblings (nginx's
``brotli_static`` and ``gzip_static``, ``dev/serve.py``) sends them with ``Content-Encoding``.
A host that does not simply serves the plain files, which stay in place.

- **Deterministic.** Brotli at quality 11 (the pinned ``brotli`` package) and gzip at level 9
  with no file name and a zero timestamp: the same input gives the same bytes in every build,
  so parallel and repeated builds write the same site byte for byte.
- **Cached by content.** The outputs live in ``<cache>/compressed/<sha256 of the input>.br``
  (and ``.gz``); a rebuild, even a clean one into an empty output folder, copies from there and
  never compresses again. Entries that the current build does not use are removed, as the
  staging area keeps only the current generation of each asset.
- **Not rehashed.** ``index.json`` in that folder remembers each input's size, mtime and
  SHA-256, and the siblings' sizes and mtimes: when none changed, a build only stats the files.
- **Atomic.** Every file is written under a temporary name and renamed, so a build that is
  killed leaves no truncated entry in the cache, and no truncated sibling beside a file.
- **In parallel.** Brotli and zlib release the GIL, so the misses are compressed in threads,
  the largest first; the WebAssembly file's brotli is the long pole.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import os
import shutil
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Final

import brotli  # type: ignore[import-untyped]
from sphinx.util import logging

logger = logging.getLogger(__name__)

# (suffix, Content-Encoding): every file gets both; hosts pick what the client accepts.
CODINGS: Final = ((".br", "br"), (".gz", "gzip"))
FOLDER: Final = "compressed"
INDEX: Final = "index.json"
STALE_SECONDS: Final = 3600


def brotli_bytes(data: bytes) -> bytes:
    # The default 4 MiB window: a 16 MiB one (lgwin=24) made the wasm 30 KB larger, not smaller.
    return bytes(brotli.compress(data, quality=11))


def gzip_bytes(data: bytes) -> bytes:
    # gzip.compress writes no file name; mtime=0 keeps the header free of the build's time.
    return gzip.compress(data, compresslevel=9, mtime=0)


def encode(suffix: str, data: bytes) -> bytes:
    """The bytes of ``data`` under one coding (looked up by name, so that tests can count calls)."""
    return brotli_bytes(data) if suffix == ".br" else gzip_bytes(data)


def sibling(path: Path, suffix: str) -> Path:
    return path.with_name(path.name + suffix)


def sibling_names(name: str) -> set[str]:
    """The names of a file's siblings, for code that cleans a folder and must keep them."""
    return {name + suffix for suffix, _ in CODINGS}


def originals(folder: Path, skip: Iterable[str] = ()) -> list[Path]:
    """The files of ``folder`` that get siblings: not hidden, not siblings, not in ``skip``."""
    left_out = set(skip)
    suffixes = tuple(suffix for suffix, _ in CODINGS)
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and not p.name.startswith(".") and not p.name.endswith(suffixes) and p.name not in left_out)


def _write_atomically(target: Path, data: bytes) -> None:
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(data)
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)


def _place(entry: Path, target: Path) -> None:
    """``target`` becomes a copy of ``entry`` (a hard link where the file system allows)."""
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        try:
            os.link(entry, tmp)
        except OSError:
            shutil.copyfile(entry, tmp)
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)


def _stat(path: Path) -> list[int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns]


def _index_key(path: Path, cache_dir: Path) -> str:
    # Relative to the cache where possible, so that a copied cache keeps its index.
    try:
        return path.relative_to(cache_dir).as_posix()
    except ValueError:
        return str(path)


def _load_index(path: Path) -> dict[str, dict[str, object]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_siblings(files: Sequence[Path], cache_dir: Path) -> list[Path]:
    """Write ``<file>.br`` and ``<file>.gz`` beside each of ``files``; returns the siblings.

    Compresses only what ``<cache_dir>/compressed`` does not hold yet, and removes the entries
    there that none of ``files`` uses.
    """
    store = cache_dir / FOLDER
    store.mkdir(parents=True, exist_ok=True)
    index_path = store / INDEX
    index = _load_index(index_path)
    new_index: dict[str, dict[str, object]] = {}
    todo: list[tuple[Path, str, bytes]] = []  # (file, digest, bytes) whose siblings must be placed
    for path in files:
        key = _index_key(path, cache_dir)
        known = index.get(key)
        siblings = {suffix: _stat(sibling(path, suffix)) for suffix, _ in CODINGS}
        if isinstance(known, dict) and all(siblings.values()) and known.get("siblings") == siblings \
                and known.get("stat") == _stat(path):
            new_index[key] = known
            continue
        data = path.read_bytes()
        todo.append((path, hashlib.sha256(data).hexdigest(), data))

    missing = {(digest, suffix): data for _, digest, data in todo for suffix, _ in CODINGS
               if not (store / f"{digest}{suffix}").is_file()}
    if missing:
        started = time.perf_counter()
        logger.info("access-checker: compressing %d files with brotli and gzip, once (the results are cached)",
                    len({digest for digest, _ in missing}))
        # Largest input first, brotli before gzip: the long jobs start at once.
        jobs = sorted(missing, key=lambda job: (-len(missing[job]), job[1] != ".br"))

        def run(job: tuple[str, str]) -> None:
            digest, suffix = job
            _write_atomically(store / f"{digest}{suffix}", encode(suffix, missing[job]))

        with ThreadPoolExecutor(max_workers=max(1, min(len(jobs), os.cpu_count() or 1))) as pool:
            list(pool.map(run, jobs))
        logger.info("access-checker: compressed %d files (brotli 11, gzip 9) in %.1f s; cached in %s",
                    len({digest for digest, _ in missing}), time.perf_counter() - started, store)

    for path, digest, _ in todo:
        for suffix, _ in CODINGS:
            _place(store / f"{digest}{suffix}", sibling(path, suffix))
        new_index[_index_key(path, cache_dir)] = {
            "stat": _stat(path), "sha256": digest,
            "siblings": {suffix: _stat(sibling(path, suffix)) for suffix, _ in CODINGS},
        }

    used = {f"{entry['sha256']}{suffix}" for entry in new_index.values() for suffix, _ in CODINGS}
    now = time.time()
    for entry in store.iterdir():
        if entry.name == INDEX or entry.name in used:
            continue
        # A hidden file is a temporary one: another build's work in progress, or a killed build's.
        with contextlib.suppress(OSError):
            if not entry.name.startswith(".") or now - entry.stat().st_mtime > STALE_SECONDS:
                entry.unlink()
    if new_index != index:
        _write_atomically(index_path, json.dumps(new_index, indent=1, sort_keys=True).encode())
    return [sibling(path, suffix) for path in files for suffix, _ in CODINGS]
