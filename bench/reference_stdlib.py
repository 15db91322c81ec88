"""The reference site's standard library: the whole npm stdlib compiled as the build compiled it
before the bytes work, run by Pyodide's own interpreter under Node (``pycompile.mjs`` runs it).

That layout is the issue's "today's layout" that the network's share is compared with: every
module as a sourceless ``.pyc`` at optimization level 0 (docstrings kept) with column
positions (the interpreter starts without ``PYTHONNODEBUGRANGES``), in a deflated zip. The
build's own compile step now strips both, so its cache no longer holds this zip.

    node pycompile.mjs PYODIDE_DIR bench/reference_stdlib.py WORK_DIR

``WORK_DIR`` (``/work`` inside Pyodide) holds ``python_stdlib.zip``, the stock zip; the
compiled one is written beside it as ``reference_stdlib.zip``.
"""

import py_compile
import sys
import tempfile
import zipfile
from pathlib import Path

_EPOCH = (1980, 1, 1, 0, 0, 0)


def main(work: Path) -> None:
    prefix = f"/lib/python{sys.version_info.major}{sys.version_info.minor}.zip"
    members: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(work / "python_stdlib.zip") as stock:
        source, target = Path(tmp) / "source.py", Path(tmp) / "compiled.pyc"
        for info in stock.infolist():
            name, data = info.filename, stock.read(info)
            if name.endswith(".py"):
                source.write_bytes(data)
                try:
                    py_compile.compile(str(source), cfile=str(target), dfile=f"{prefix}/{name}", doraise=True,
                                       optimize=0, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
                except py_compile.PyCompileError:
                    members[name] = data  # as the build did: left as source
                    continue
                members[name[:-3] + ".pyc"] = target.read_bytes()
            else:
                members[name] = data  # data files, and the folders' own entries
    with zipfile.ZipFile(work / "reference_stdlib.zip", "w") as out:
        for name in sorted(members):
            entry = zipfile.ZipInfo(name, date_time=_EPOCH)
            entry.create_system = 3  # Unix
            if name.endswith("/"):
                entry.external_attr = (0o40755 << 16) | 0x10
                out.writestr(entry, b"")
            else:
                entry.external_attr = 0o644 << 16
                entry.compress_type = zipfile.ZIP_DEFLATED
                out.writestr(entry, members[name], compresslevel=9)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
