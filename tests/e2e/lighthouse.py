"""``make audit``: Lighthouse on three pages of the site, served as production serves it.

Not part of ``make test``: Lighthouse is slow and its scores belong to a machine and a version.
It builds the site strictly into ``_build/audit`` with the served origin as its address (so that
the sitemap, robots.txt, canonical links and link previews are those of a hosted site), serves
it with ``dev/serve.py`` (the production headers), and runs the pinned Lighthouse (package.json)
in Debian's Chromium (``CHROME_PATH``, default /usr/bin/chromium) with its mobile settings, for
the accessibility, best-practices and SEO categories. It prints each page's scores and the
audits that failed, writes the HTML and JSON reports to ``_build/audit-reports/``, and exits 1
when a score is under 100 (help/maintainers/accessibility.rst).

    .venv/bin/python -m tests.e2e.lighthouse [--port 8001] [PAGE ...]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from dev.processes import serving
from tests.conftest import NODE_MODULES, REPO, sphinx_build

PAGES = ("index.html", "howtos/train/index.html", "reference/user-access-levels.html")
CATEGORIES = ("accessibility", "best-practices", "seo")
LIGHTHOUSE = NODE_MODULES / ".bin" / "lighthouse"
OUT = REPO / "_build" / "audit"
REPORTS = REPO / "_build" / "audit-reports"


def audit(url: str, report: Path, chrome: str) -> dict[str, object]:
    """Run Lighthouse on one page; its JSON result (the HTML report is written beside it)."""
    argv = [str(LIGHTHOUSE), url, "--quiet", f"--only-categories={','.join(CATEGORIES)}",
            "--chrome-flags=--headless=new --no-sandbox --disable-gpu --no-first-run",
            "--output=json", "--output=html", f"--output-path={report}"]
    result = subprocess.run(argv, env={**os.environ, "CHROME_PATH": chrome}, capture_output=True, text=True,
                            timeout=300, check=False)
    if result.returncode != 0:
        raise SystemExit(f"lighthouse failed on {url}:\n{result.stderr[-3000:]}")
    data: dict[str, object] = json.loads(report.with_suffix(".report.json").read_text())
    return data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Lighthouse on the built site (make audit)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("AUDIT_PORT", "8001")))
    parser.add_argument("pages", nargs="*", default=list(PAGES))
    args = parser.parse_args(argv)
    chrome = os.environ.get("CHROME_PATH") or os.environ.get("CHROMIUM") or "/usr/bin/chromium"
    origin = f"http://127.0.0.1:{args.port}"
    print(f"building {OUT.relative_to(REPO)} for {origin}/ ...", flush=True)
    result = sphinx_build(REPO, OUT, extra=("-D", f"html_baseurl={origin}/"))
    if result.returncode != 0:
        print(result.stdout[-2000:] + result.stderr[-3000:], file=sys.stderr)
        return 1
    REPORTS.mkdir(parents=True, exist_ok=True)
    server = [sys.executable, str(REPO / "dev" / "serve.py"), "--root", str(OUT), "--port", str(args.port), "--quiet"]
    below = 0
    with serving(server, origin + "/", log=REPORTS / "serve.log", env=dict(os.environ), name="serve.py",
                 ready_line="serving "):
        for page in args.pages:
            report = REPORTS / page.replace("/", "-").removesuffix(".html")
            data = audit(f"{origin}/{page}", report, chrome)
            categories = data["categories"]
            audits = data["audits"]
            assert isinstance(categories, dict) and isinstance(audits, dict)
            scores = {name: round(100 * (categories[name]["score"] or 0)) for name in CATEGORIES}
            print(f"{page}: " + ", ".join(f"{name} {score}" for name, score in scores.items()), flush=True)
            for name in CATEGORIES:
                for ref in categories[name]["auditRefs"]:
                    found = audits[ref["id"]]
                    if ref["weight"] and found["score"] is not None and found["score"] < 1:
                        print(f"    {name}: {ref['id']}: {found['title']}")
            below += sum(score < 100 for score in scores.values())
    print(f"reports: {REPORTS.relative_to(REPO)}/")
    return 1 if below else 0


if __name__ == "__main__":
    sys.exit(main())
