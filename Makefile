# citygrid — the two commands a newcomer needs: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
CITYGRID := $(VENV)/bin/citygrid
DEMO_SIZE ?= default

.PHONY: demo test install system-deps vendor translations db-up serve clean bench

demo: install db-up
	$(CITYGRID) demo --size $(DEMO_SIZE)
	@echo ""
	@echo "Sign in at the address printed below with one of the accounts above."
	$(CITYGRID) serve

test: install db-up
	$(PY) -m pytest

install: system-deps $(VENV)/.installed vendor translations

system-deps:
	@tools/system-deps.sh

$(VENV)/.installed: setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

# Leaflet and plugins come from the npm registry, pinned by package-lock.json;
# pages load them from static/vendor and never from a CDN.
vendor: static/vendor/.installed

static/vendor/.installed: package.json package-lock.json tools/vendor.py
	npm ci --no-audit --no-fund --loglevel=error
	$(PY) tools/vendor.py
	touch $@

translations: $(VENV)/.installed
	$(VENV)/bin/pybabel compile -d app/translations

db-up: $(VENV)/.installed
	@if [ -z "$$DATABASE_URL" ]; then $(CITYGRID) db up; fi

serve: install db-up
	$(CITYGRID) serve

bench: install db-up
	$(PY) bench/locate.py
	$(PY) bench/assets.py
	$(PY) bench/live.py

clean:
	-$(CITYGRID) db down
	rm -rf $(VENV) node_modules static/vendor var build *.egg-info
