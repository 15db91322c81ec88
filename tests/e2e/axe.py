"""axe-core on a whole page, against WCAG 2.2 AA and axe's best practices (help/maintainers/accessibility.rst).

axe-core (``node_modules/axe-core/axe.min.js``, pinned in package.json) is injected through the
test driver: ``page.evaluate`` runs over the DevTools protocol, which the page's
Content-Security-Policy does not govern (the policy stays on). Every violation counts, whatever
its impact.
"""

from __future__ import annotations

from playwright.sync_api import Page

from tests.conftest import NODE_MODULES

AXE = NODE_MODULES / "axe-core" / "axe.min.js"
TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice")
# The rules whose outcome depends on the width of the window: what scrolls, what is hidden.
LAYOUT_RULES = ("scrollable-region-focusable", "target-size", "region")

_RUN = """async ([tags, rules]) => {
  const only = rules ? { type: 'rule', values: rules } : { type: 'tag', values: tags };
  const r = await axe.run(document, { runOnly: only, resultTypes: ['violations'] });
  return r.violations.map(v => ({ id: v.id, impact: v.impact || '', nodes: v.nodes.map(n => n.target.join(' ')),
    why: (v.nodes[0].any[0] || v.nodes[0].all[0] || v.nodes[0].none[0] || {}).message || '' }));
}"""


def violations(page: Page, rules: tuple[str, ...] | None = None) -> list[str]:
    """axe's violations on the whole page, one line per rule: ``id (impact): n nodes [first] why``.

    ``rules`` narrows the run to those rules; by default every rule with one of ``TAGS`` runs.
    """
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    found = page.evaluate(_RUN, [list(TAGS), list(rules) if rules else None])
    return [f"{v['id']} ({v['impact']}): {len(v['nodes'])} nodes {v['nodes'][:3]} {v['why']}" for v in found]
