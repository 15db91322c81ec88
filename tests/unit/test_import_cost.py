"""What importing the checker costs in the browser, kept down by rules a test can read.

Pyodide runs the import before the reader sees anything, and WebAssembly makes every call to
``compile`` expensive. A NamedTuple whose annotations are strings (``from __future__ import
annotations``) compiles each of them when the class is made: importing the page's modules
called ``compile`` 190 times that way, and 28 times with the annotations evaluated (counted
with an audit hook, in Pyodide and on CPython alike).
"""

import ast
import pkgutil
from pathlib import Path

import access_checker

PACKAGE = Path(access_checker.__file__).parent


def modules() -> dict[str, ast.Module]:
    found = {}
    for info in pkgutil.walk_packages([str(PACKAGE)], "access_checker."):
        path = PACKAGE.joinpath(*info.name.split(".")[1:])
        file = path / "__init__.py" if info.ispkg else path.with_suffix(".py")
        found[info.name] = ast.parse(file.read_text(encoding="utf-8"))
    return found


def test_modules_with_named_tuples_evaluate_their_annotations() -> None:
    for name, tree in modules().items():
        records = [node.name for node in tree.body if isinstance(node, ast.ClassDef)
                   and any(isinstance(base, ast.Name) and base.id == "NamedTuple" for base in node.bases)]
        future = any(isinstance(node, ast.ImportFrom) and node.module == "__future__" for node in tree.body)
        assert not (records and future), f"{name}: {records} with string annotations"


def test_the_page_does_not_import_the_schema() -> None:
    """Only the command line writes the JSON Schema."""
    for name, tree in modules().items():
        if name.startswith(("access_checker.web", "access_checker.request")) and name != "access_checker.request.schema":
            imported = [alias.name for node in tree.body if isinstance(node, ast.Import) for alias in node.names]
            imported += [f"{node.module}.{alias.name}" for node in tree.body if isinstance(node, ast.ImportFrom)
                         for alias in node.names]
            imported += [node.module or "" for node in tree.body if isinstance(node, ast.ImportFrom)]
            assert "access_checker.request.schema" not in imported, name
