# AI4OS docs: two commands on a fresh machine, `make serve` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SPHINXOPTS ?= -n -W --keep-going
PORT ?= 8000
IDP_PORT ?= 9400
CHROMIUM ?= $(shell command -v chromium || command -v chromium-browser)
# The demo sign-in that `make serve` wires up (the local OpenID provider of dev/idp).
DEMO_ENV := ACCESS_CHECKER_OIDC_ISSUER=http://127.0.0.1:$(IDP_PORT) \
            ACCESS_CHECKER_OIDC_CLIENT_ID=ai4os-docs-demo

.PHONY: setup html serve-html serve livehtml linkcheck lint test bench clean pdf audit

# ---- set-up (idempotent: each step reruns only when its inputs change) ----------------------
setup: $(VENV)/.installed node_modules/.installed .cache/pyodide-wheels/.installed

$(VENV)/.installed: requirements.txt checker/core/pyproject.toml checker/sphinx/pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "Python 3.11 or newer is needed (found $$($(PYTHON) --version))."; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	@command -v npm >/dev/null || { echo "Node 20 or newer (with npm) is needed: install nodejs."; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Pure-Python wheels that the core test suite needs inside Pyodide (tests/pyodide).
.cache/pyodide-wheels/.installed: tests/pyodide/requirements.txt $(VENV)/.installed
	$(PY) -m pip download --quiet --disable-pip-version-check --only-binary=:all: --no-deps \
	  --python-version 3.14 --platform any --implementation py \
	  -d .cache/pyodide-wheels -r tests/pyodide/requirements.txt
	touch $@

# ---- the site ----------------------------------------------------------------------------
html: setup
	$(VENV)/bin/sphinx-build $(SPHINXOPTS) -b html . _build/html

# The same site configured for the local demo provider, in its own folder so that switching
# between the two does not force full rebuilds.
serve-html: setup
	$(DEMO_ENV) $(VENV)/bin/sphinx-build $(SPHINXOPTS) -q -b html . _build/serve

serve: serve-html
	PORT=$(PORT) IDP_PORT=$(IDP_PORT) $(PY) dev/stack.py --root _build/serve

livehtml: setup
	$(DEMO_ENV) $(VENV)/bin/sphinx-autobuild $(SPHINXOPTS) --host 127.0.0.1 --port $(PORT) \
	  --ignore '*/.cache/*' . _build/live

# Needs internet access: it fetches every external link.
linkcheck: setup
	$(VENV)/bin/sphinx-build -b linkcheck . _build/linkcheck

# The PDF that Read the Docs offers, built the same way (xelatex, latexmk): needs a TeX
# installation (Debian/Ubuntu: help/maintainers/accessibility.rst lists the packages).
pdf: setup
	@command -v xelatex >/dev/null && command -v latexmk >/dev/null || { echo "xelatex and latexmk are needed: apt-get install --no-install-recommends texlive-xetex texlive-latex-recommended texlive-latex-extra texlive-fonts-recommended latexmk fonts-freefont-otf xindy"; exit 1; }
	$(VENV)/bin/sphinx-build -M latexpdf . _build $(SPHINXOPTS)
	@ls -l _build/latex/*.pdf

# ---- checks ------------------------------------------------------------------------------
lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	node_modules/.bin/tsc -p jsconfig.json

test: setup
	@test -n "$(CHROMIUM)" || { echo "Chromium is missing: install it (Debian/Ubuntu: apt-get install chromium), then rerun make test."; exit 1; }
	$(MAKE) --no-print-directory lint
	node --test tests/js/
	CHROMIUM=$(CHROMIUM) $(PY) -m pytest

# Lighthouse (accessibility, best practices, SEO) on three pages of a build served as production
# serves it; exits 1 under 100 (tests/e2e/lighthouse.py). Not part of `make test`.
audit: setup
	@test -n "$(CHROMIUM)" || { echo "Chromium is missing: install it (Debian/Ubuntu: apt-get install chromium), then rerun make audit."; exit 1; }
	CHROME_PATH=$(CHROMIUM) $(PY) -m tests.e2e.lighthouse

bench: setup
	CHROMIUM=$(CHROMIUM) $(PY) bench/run.py

clean:
	rm -rf _build .cache

# ---- upgrading Pyodide (help/maintainers/building.rst, "Upgrade Pyodide") -----------------
.PHONY: pyodide-upgrade
pyodide-upgrade: $(VENV)/.installed
	@test -n "$(VERSION)" || { echo "Name the release: make pyodide-upgrade VERSION=<npm version of pyodide>"; exit 1; }
	$(PY) dev/pyodide_upgrade.py $(VERSION)
