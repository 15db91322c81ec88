"""Sphinx extension: the AI4OS access policy in the docs, and the in-browser access checker.

One module per feature, each with its own ``setup``: configuration, the policy of record,
level references, requirement boxes, the widget, the asset pipeline, the page assets, the
security policy, and a search index free of substitution definitions.
"""

from __future__ import annotations

from typing import Any

from sphinx.application import Sphinx

from sphinx_access_checker import (
    assets,
    config,
    csp,
    pages,
    policy_source,
    references,
    requirement,
    search_hygiene,
    widget,
)

__version__ = "1.0.0"


def setup(app: Sphinx) -> dict[str, Any]:
    for feature in (config, policy_source, references, requirement, widget, assets, pages, csp, search_hygiene):
        feature.setup(app)
    return {"version": __version__, "parallel_read_safe": True, "parallel_write_safe": True}
