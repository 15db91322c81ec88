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
- **Cached by content.** The outputs live in ``<cache>/compressed/<group>/<sha256 of the
  input>.br`` (and ``.gz``); a rebuild, even a clean one into an empty output folder, copies
  from there and never compresses again. Entries that the current build does not use are
  removed, as the staging area keeps only the current generation of each asset.
- **In groups.** Each caller names its group (the build has two: ``runtime``, compressed in
  the background, and ``static``), which owns its folder, its index and its clean-up: two
  calls for two groups, even at the same time in two threads, never remove or forget each
  other's entries.
- **Not rehashed.** ``index.json`` in a group's folder remembers each input's size, mtime and
  SHA-256, and the siblings' sizes and mtimes: when none changed, a build only stats the files.
- **Atomic.** Every file is written under a temporary name and renamed, so a build that is
  killed leaves no truncated entry in the cache, and no truncated sibling beside a file.
- **In parallel.** Brotli and zlib release the GIL, so the misses are compressed in threads,
  the largest first; the WebAssembly file's brotli is the long pole.
- **In steps.** :class:`Siblings` first finds out what is missing (it stats the files and
  hashes the changed ones), then :meth:`Siblings.complete` does the rest, so that a caller can
  run the long part elsewhere, and only when there is one (``runtime_compression.RuntimeCompression``: in a
  thread while Sphinx builds the pages). :func:`fill` compresses files into a group's cache
  ahead of the :class:`Siblings` that will want them (the npm boot files, before the runtime
  is staged). :func:`write_siblings` plans and completes at once.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import os
import shutil
import threading
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


def _tmp(target: Path) -> Path:
    # Hidden (the clean-up spares young hidden files), and unique to this process and thread.
    return target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")


def _write_atomically(target: Path, data: bytes) -> None:
    tmp = _tmp(target)
    try:
        tmp.write_bytes(data)
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)


def _place(entry: Path, target: Path) -> None:
    """``target`` becomes a copy of ``entry`` (a hard link where the file system allows)."""
    tmp = _tmp(target)
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


def _compress_into(store: Path, missing: dict[tuple[str, str], bytes]) -> None:
    """Write ``<store>/<digest><suffix>`` for each (digest, suffix) of ``missing``, in threads."""
    # Largest input first, brotli before gzip: the long jobs start at once.
    jobs = sorted(missing, key=lambda job: (-len(missing[job]), job[1] != ".br"))

    def run(job: tuple[str, str]) -> None:
        digest, suffix = job
        _write_atomically(store / f"{digest}{suffix}", encode(suffix, missing[job]))

    with ThreadPoolExecutor(max_workers=max(1, min(len(jobs), os.cpu_count() or 1))) as pool:
        list(pool.map(run, jobs))


def _store(cache_dir: Path, group: str) -> Path:
    if not group or group.startswith(".") or "/" in group or "\\" in group:
        raise ValueError(f"a group is a plain folder name, not {group!r}")
    return cache_dir / FOLDER / group


def cached(digests: Iterable[str], cache_dir: Path, *, group: str) -> bool:
    """Whether the group's cache holds every compressed copy of inputs with these SHA-256 digests."""
    store = _store(cache_dir, group)
    return all((store / f"{digest}{suffix}").is_file() for digest in digests for suffix, _ in CODINGS)


def fill(paths: Sequence[Path], cache_dir: Path, *, group: str) -> None:
    """Put the compressed copies of ``paths`` in the group's cache, and nothing else: a head
    start for a :class:`Siblings` of the same group that will ask for the same bytes (its
    :meth:`~Siblings.complete` then only copies them). Entries are named by the digest of what
    was read, never by what a caller expected the file to hold."""
    store = _store(cache_dir, group)
    store.mkdir(parents=True, exist_ok=True)
    missing: dict[tuple[str, str], bytes] = {}
    for path in paths:
        data = path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        missing.update({(digest, suffix): data for suffix, _ in CODINGS if not (store / f"{digest}{suffix}").is_file()})
    if missing:
        _compress_into(store, missing)


class Siblings:
    """``<file>.br`` and ``<file>.gz`` beside each of ``files``, from the cache of one group.

    Creating it only looks: it stats ``files``, reads and hashes those its group's index does
    not know in their current state, and finds which outputs ``<cache_dir>/compressed/<group>``
    lacks (:attr:`missing`). :meth:`complete` compresses those, places the siblings, writes
    the group's index and removes the group's entries that none of ``files`` uses. The other
    groups' folders are never touched, so calls for two groups may run at the same time.
    """

    def __init__(self, files: Sequence[Path], cache_dir: Path, *, group: str) -> None:
        self.files = list(files)
        self.cache_dir = cache_dir
        self.store = _store(cache_dir, group)
        self.store.mkdir(parents=True, exist_ok=True)
        self._index = _load_index(self.store / INDEX)
        self._kept: dict[str, dict[str, object]] = {}
        self._todo: list[tuple[Path, str]] = []  # (file, digest) whose siblings must be placed
        inputs: dict[str, bytes] = {}
        for path in self.files:
            key = _index_key(path, cache_dir)
            known = self._index.get(key)
            siblings = {suffix: _stat(sibling(path, suffix)) for suffix, _ in CODINGS}
            if isinstance(known, dict) and all(siblings.values()) and known.get("siblings") == siblings \
                    and known.get("stat") == _stat(path):
                self._kept[key] = known
                continue
            data = path.read_bytes()
            digest = hashlib.sha256(data).hexdigest()
            self._todo.append((path, digest))
            inputs[digest] = data
        self._missing = {(digest, suffix): data for digest, data in inputs.items() for suffix, _ in CODINGS
                         if not (self.store / f"{digest}{suffix}").is_file()}
        self.seconds = 0.0
        """How long :meth:`complete` spent compressing."""

    @property
    def missing(self) -> int:
        """How many of the files need compressing (0: :meth:`complete` only copies from the cache)."""
        return len({digest for digest, _ in self._missing})

    def complete(self) -> list[Path]:
        """Compress what is missing, place every sibling, keep the group's cache tidy; returns the siblings."""
        store = self.store
        # What fill() has put in the cache since this was planned is not compressed twice.
        self._missing = {job: data for job, data in self._missing.items() if not (store / "".join(job)).is_file()}
        if self._missing:
            started = time.perf_counter()
            _compress_into(store, self._missing)
            self._missing = {}
            self.seconds = time.perf_counter() - started

        new_index = dict(self._kept)
        for path, digest in self._todo:
            for suffix, _ in CODINGS:
                _place(store / f"{digest}{suffix}", sibling(path, suffix))
            new_index[_index_key(path, self.cache_dir)] = {
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
        if new_index != self._index:
            _write_atomically(store / INDEX, json.dumps(new_index, indent=1, sort_keys=True).encode())
        return [sibling(path, suffix) for path in self.files for suffix, _ in CODINGS]


def write_siblings(files: Sequence[Path], cache_dir: Path, *, group: str = "default") -> list[Path]:
    """Write ``<file>.br`` and ``<file>.gz`` beside each of ``files`` now; returns the siblings.

    Compresses only what ``<cache_dir>/compressed/<group>`` does not hold yet, and removes the
    entries there that none of ``files`` uses (see :class:`Siblings`).
    """
    return finish(Siblings(files, cache_dir, group=group))


def finish(work: Siblings) -> list[Path]:
    """:meth:`Siblings.complete` in the caller's thread, saying so when it compresses."""
    count = work.missing
    if count:
        logger.info("access-checker: compressing %d files with brotli and gzip, once (the results are cached)", count)
    siblings = work.complete()
    if count:
        logger.info("access-checker: compressed %d files (brotli 11, gzip 9) in %.1f s; cached in %s",
                    count, work.seconds, work.store)
    return siblings
