# Two commands set everything up on a fresh machine:
#   make run    create .venv, install the app, open the window
#   make test   create .venv, install app + training + dev tools + ray, run lint, type checks and all tests
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip

.PHONY: run test lint typecheck pytest clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.app-installed: pyproject.toml | $(PY)
	$(PIP) install --quiet -e .
	touch $@

$(VENV)/.dev-installed: pyproject.toml constraints.txt | $(PY)
	$(PIP) install --quiet -c constraints.txt -e '.[train,dev,ray]'
	touch $@

# FOLDER is quoted: `make run FOLDER="~/Pictures/a trip"` opens one folder, not two. A folder that
# is not there, or missing X11 libraries, are reported by sorter-gui itself (ui/xcb_check.py).
run: $(VENV)/.app-installed
	$(VENV)/bin/sorter-gui $(if $(FOLDER),"$(FOLDER)")

test: $(VENV)/.dev-installed lint typecheck pytest

lint: $(VENV)/.dev-installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(VENV)/.dev-installed
	$(VENV)/bin/mypy

pytest: $(VENV)/.dev-installed
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache

# make build: the double-click build, dist/image-sorter/ (sorter-gui + sorter; see packaging/README.md).
# Then check it by hand: $(PY) packaging/smoke_test.py [FOLDER]
$(VENV)/.build-installed: pyproject.toml constraints.txt | $(PY)
	$(PIP) install --quiet -c constraints.txt -e '.[build]'
	touch $@

.PHONY: build
build: $(VENV)/.build-installed
	$(PY) packaging/build.py
