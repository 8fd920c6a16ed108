# Everything sets itself up: a virtual environment per interpreter, the package, its tools.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: demo test suite lint bench clean

# venv + the package with its test and lint tools, rebuilt when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	@if $(PY) -c 'import sys; sys.exit(0 if getattr(sys, "_is_gil_enabled", lambda: True)() else 1)'; then \
		$(PY) -m pip install -q -e '.[test,lint]'; \
	else \
		$(PY) -m pip install -q -e '.[test-freethreaded]'; \
	fi
	touch $@

demo: $(VENV)/.installed
	@for f in examples/*.py; do echo "== $$f"; $(PY) $$f || exit 1; done

# The whole suite on the default interpreter, with the type and lint checks.
test: lint suite

lint: $(VENV)/.installed
	$(PY) -m ruff check src tests examples benchmarks
	$(PY) -m ruff format --check src tests examples benchmarks
	$(PY) -m mypy

suite: $(VENV)/.installed
	$(PY) -m pytest $(PYTEST_ARGS)

clean:
	rm -rf .venv .venv-* build dist src/*.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis
