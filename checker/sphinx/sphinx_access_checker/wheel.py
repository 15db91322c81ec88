"""A deterministic pure-Python wheel of ``access_checker``, built in-process in milliseconds.

A wheel is a zip with a ``.dist-info`` folder; building it here (rather than with pip or
``python -m build``) needs no isolated build environment and gives byte-identical output
for identical sources, which keeps the content-versioned URL stable between builds.

Its members are *stored*, not deflated (the wheel format allows both; zipimport, which the
page imports it with, and pip read both). A deflated zip is already compressed file by file,
so the host's brotli could not shrink it (171 KB as is, 166 KB with brotli); stored, brotli
works across all its files, and the sources and the pyc beside each share their names and
strings: 393 KB as is, 110 KB with brotli, 138 KB with gzip.

The ``.py`` sources stay beside the ``.pyc``: tracebacks from the checker (which the worker
reports when Python fails) show their source lines from them. Without them the wheel would be
87 KB with brotli instead of 110 KB, about half a percent of what the access page downloads.
"""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path

NAME = "access_checker"
DIST = "access_checker"
TAG = "py3-none-any"
_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time zip can store: no build-time leaks in
_UNIX = 3  # ZipInfo.create_system: the modes below are Unix modes, whatever the host
# Part of the digest: a change of layout gives the wheel a new content-versioned folder, so a
# cache never serves a wheel written the earlier way.
_LAYOUT = b"stored-1"
_INCLUDED = (".py", ".toml", ".typed")


def source_files(package_dir: Path) -> list[Path]:
    return sorted(
        p for p in package_dir.rglob("*")
        if p.is_file() and p.suffix in _INCLUDED and "__pycache__" not in p.parts
    )


def sources_digest(package_dir: Path, extra: bytes = b"") -> str:
    """A hash of everything that goes into the wheel: same digest, same wheel."""
    digest = hashlib.sha256(_LAYOUT + b"\0" + extra)
    for path in source_files(package_dir):
        digest.update(path.relative_to(package_dir).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def wheel_name(version: str) -> str:
    return f"{DIST}-{version}-{TAG}.whl"


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def build_wheel(package_dir: Path, version: str, out: Path, extra_files: dict[str, bytes] | None = None) -> Path:
    """Write the wheel to ``out`` (a file path). ``extra_files``: archive path → bytes (e.g. .pyc)."""
    entries: dict[str, bytes] = {
        f"{NAME}/{p.relative_to(package_dir).as_posix()}": p.read_bytes() for p in source_files(package_dir)
    }
    entries.update(extra_files or {})
    info = f"{DIST}-{version}.dist-info"
    entries[f"{info}/METADATA"] = (
        f"Metadata-Version: 2.1\nName: access-checker\nVersion: {version}\n"
        "Summary: The AI4OS access checker (browser build)\nRequires-Python: >=3.11\n"
    ).encode()
    entries[f"{info}/WHEEL"] = (
        f"Wheel-Version: 1.0\nGenerator: sphinx-access-checker\nRoot-Is-Purelib: true\nTag: {TAG}\n"
    ).encode()
    entries[f"{info}/top_level.txt"] = f"{NAME}\n".encode()
    record = "".join(f"{name},{_record_hash(data)},{len(data)}\n" for name, data in sorted(entries.items()))
    entries[f"{info}/RECORD"] = (record + f"{info}/RECORD,,\n").encode()

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as archive:
        for name in sorted(entries):
            zinfo = zipfile.ZipInfo(name, date_time=_EPOCH)
            zinfo.compress_type = zipfile.ZIP_STORED
            zinfo.create_system = _UNIX
            zinfo.external_attr = 0o644 << 16
            archive.writestr(zinfo, entries[name])
    tmp.replace(out)
    return out
