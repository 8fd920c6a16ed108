# Everything sets itself up: a virtual environment per interpreter, the package, its tools.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=
BENCH_ARGS ?=

.PHONY: demo test suite lint bench clean

# venv + the package with its test and lint tools, rebuilt when the build files change. The
# install compiles select's C try pass (src/mpsc/_accel.c) in place, on CPython.
$(VENV)/.installed: pyproject.toml setup.py src/mpsc/_accel.c
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	@# A failed (optional) build must not leave an older build of the C pass in place.
	rm -f src/mpsc/_accel$$($(PY) -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')
	@if $(PY) -c 'import sys; sys.exit(0 if getattr(sys, "_is_gil_enabled", lambda: True)() else 1)'; then \
		$(PY) -m pip install -q -e '.[test,lint]'; \
	else \
		$(PY) -m pip install -q -e '.[test-freethreaded]'; \
	fi
	touch $@

demo: $(VENV)/.installed
	@for f in examples/*.py; do echo "== $$f"; $(PY) $$f || exit 1; done
	@echo "== a short benchmark (make bench for the full suite against every peer)"
	$(PY) benchmarks/run.py --quick --only spsc_unbounded,pingpong

# The whole suite on the default interpreter, with the type and lint checks.
test: lint suite

lint: $(VENV)/.installed
	$(PY) -m ruff check src tests examples benchmarks setup.py
	$(PY) -m ruff format --check src tests examples benchmarks setup.py
	$(PY) -m mypy

suite: $(VENV)/.installed
	$(PY) -m pytest $(PYTEST_ARGS)

# The benchmark suite's peers and matplotlib (the bench extra), on top of the test venv. pygolang
# 0.1 needs Cython < 3 to build: it is tried with a build constraint and left out if it fails.
$(VENV)/.bench-installed: $(VENV)/.installed pyproject.toml benchmarks/pygolang-build-constraints.txt
	$(PY) -m pip install -q -e '.[bench]'
	@PIP_CONSTRAINT=benchmarks/pygolang-build-constraints.txt $(PY) -m pip install -q pygolang==0.1 \
		|| echo "pygolang 0.1 did not build: the select workloads will run without it"
	touch $@

# The full suite (a few minutes): tables on stdout, benchmarks/results/latest.json and *.png.
# make bench BENCH_ARGS=--quick for a run under 30 s (it writes no files unless asked).
bench: $(VENV)/.bench-installed
	$(PY) benchmarks/run.py $(BENCH_ARGS)

clean:
	rm -rf .venv .venv-* build dist src/*.egg-info src/mpsc/*.so .pytest_cache .mypy_cache .ruff_cache .hypothesis
