# Two commands do all set-up on a fresh machine: `make build` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The extras of pyproject.toml that `make build` and `make test` use (see the stamp below).
EXTRAS := test,runtime,postgres,online-tts
# Debian packages the build needs: espeak-ng (offline Swedish voice), HarfBuzz's
# subsetter and Pango for WeasyPrint's PDFs, a font with Swedish letters, and ffmpeg
# (films from storyboards: H.264/AAC, SVG pictures through its librsvg decoder).
DEBIAN_PACKAGES := espeak-ng libharfbuzz-subset0 libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core ffmpeg
# Debian packages only the tests need: Chromium and its driver for the runtime's browser
# test, PostgreSQL for the runtime suite's second database (.ci/run starts a server),
# HAProxy to check deploy/haproxy.cfg (tests/test_deploy.py).
TEST_DEBIAN_PACKAGES := chromium chromium-driver postgresql haproxy
# axe-core for the browser test's accessibility check, from the npm registry.
AXE := tests/runtime/node_modules/axe-core/axe.min.js
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: build test check lint clean system test-system serve oidc-demo catalogues

build: $(STAMP) system
	$(BIN)/stegvis build

check: $(STAMP)
	$(BIN)/stegvis check

# Live preview for reviewers on http://127.0.0.1:8000/ (PROGRAM=regions/norrbotten, PORT=8001 to change).
serve: $(STAMP) system
	$(BIN)/stegvis serve $(PROGRAM) $(if $(PORT),--port $(PORT))

test: $(STAMP) system test-system $(AXE)
	$(BIN)/python -m pytest

# The runtime's catalogues (issue 18, docs/translations.md): extract the patient pages' strings into
# runtime.pot, then merge them into every language's runtime.po (new strings come in untranslated, never
# fuzzy; strings gone from the sources are dropped). tests/runtime/test_i18n.py fails until all are translated.
LOCALES := templates/runtime/locales
catalogues: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -o $(LOCALES)/runtime.pot --add-location=file --sort-output \
	  -c "Translators:" --project Stegvis --version 1 --msgid-bugs-address "" --copyright-holder "" .
	$(BIN)/pybabel update -D runtime -i $(LOCALES)/runtime.pot -d $(LOCALES) --no-fuzzy-matching --ignore-obsolete

# Then the import contracts of .importlinter (DESIGN.md, "Layers"; import-linter comes with
# the test extra).
lint: $(STAMP)
	$(BIN)/ruff check builder runtime stegvis_package tests build.py
	$(BIN)/lint-imports --no-cache

# Install missing Debian packages when running as root; otherwise say what is missing.
# Java (for the Nu HTML checker in the tests) counts as present if any JRE is.
system:
	@missing=""; \
	for p in $(DEBIAN_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	command -v java >/dev/null 2>&1 || missing="$$missing default-jre-headless"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	  else \
	    echo "Missing Debian packages:$$missing (run as root or install them)"; \
	  fi; \
	fi

# The same for the tests' own Debian packages (and npm, for axe-core).
test-system:
	@missing=""; \
	for p in $(TEST_DEBIAN_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	command -v npm >/dev/null 2>&1 || missing="$$missing npm"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	  else \
	    echo "Missing Debian packages for the tests:$$missing (run as root or install them)"; \
	  fi; \
	fi

$(AXE): tests/runtime/package.json tests/runtime/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
	  npm ci --prefix tests/runtime --no-audit --no-fund --loglevel=error && touch $(AXE); \
	else \
	  echo "npm is missing: the runtime's browser test will be skipped"; \
	fi

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

# One venv for both commands, with every extra: the runtime (its tests, `stegvis runtime`),
# PostgreSQL (the runtime suite's second database), the online voice and the test tools.
# Installed again when the packaging changes, or a top-level package appears (the editable
# install maps each top-level package by name, so a new one, e.g. stegvis_package/, needs it).
$(STAMP): pyproject.toml setup.py $(wildcard */__init__.py) | $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[$(EXTRAS)]'
	touch $(STAMP)

clean:
	rm -rf dist var .pytest_cache

# The e-identification (patients) and SITHS (staff) logins, tried locally: the test OpenID
# Connect provider on http://127.0.0.1:8010 and the demo runtime on http://localhost:8000
# (needs `make build` first). The provider's login page lets you pick a demo person.
oidc-demo: $(STAMP) $(AXE)
	@node tests/runtime/oidc/provider.mjs & provider=$$!; trap 'kill $$provider' EXIT INT TERM; \
	$(BIN)/stegvis runtime --demo --oidc-config tests/runtime/oidc/demo.toml $(if $(PACKAGES),--packages $(PACKAGES))
