"""Keep substitution definitions out of the search index.

``conf.py`` defines every AI4OS address once, as substitutions appended to each page through
``rst_epilog``. Their definitions stay in each page's doctree, and Sphinx's indexer reads all
the text it finds there, so without this every page would match a search for any address
(``vllm``, ``share``…). Marking the definitions ``no-search`` leaves the index to what the
page shows.
"""

from __future__ import annotations

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.transforms import SphinxTransform


class UnsearchableSubstitutionDefinitions(SphinxTransform):
    default_priority = 900  # after every substitution has been applied

    def apply(self, **kwargs: object) -> None:
        for definition in self.document.findall(nodes.substitution_definition):
            definition["classes"].append("no-search")


def setup(app: Sphinx) -> None:
    app.add_transform(UnsearchableSubstitutionDefinitions)
