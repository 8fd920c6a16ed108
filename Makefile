# Everything sets itself up: a virtual environment per interpreter, the package, its tools.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=
BENCH_ARGS ?=
# The requirements of one extra of pyproject.toml (their one place), for pip: $$($(EXTRA) docs)
EXTRA = $(PY) -c 'import sys, tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"][sys.argv[1]])'

.PHONY: demo test suite lint bench asan packaging docs clean redis-server

# venv + the package with its test and lint tools, rebuilt when the build files change. The
# install compiles the C extensions (src/mpsc/_accel.c, src/mpsc/process/_steps.c,
# src/mpsc/process/_ring.c) in place, on CPython.
$(VENV)/.installed: pyproject.toml setup.py src/mpsc/_accel.c src/mpsc/process/_steps.c src/mpsc/_compat.h \
		src/mpsc/process/_ring.c src/mpsc/process/_ring.h
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	@# A failed (optional) build must not leave an older build of the C pass in place.
	rm -f src/mpsc/_accel$$($(PY) -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))') \
		src/mpsc/process/_steps$$($(PY) -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))') \
		src/mpsc/process/_ring$$($(PY) -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')
	@if $(PY) -c 'import sys; sys.exit(0 if getattr(sys, "_is_gil_enabled", lambda: True)() else 1)'; then \
		$(PY) -m pip install -q -e '.[test,lint]'; \
	else \
		$(PY) -m pip install -q -e '.[test-freethreaded]'; \
	fi
	touch $@

demo: $(VENV)/.installed redis-server
	@for f in examples/*.py; do echo "== $$f"; $(PY) $$f || exit 1; done
	@echo "== a short benchmark (make bench for the full suite against every peer)"
	$(PY) benchmarks/run.py --quick --only spsc_unbounded,pingpong

# The whole suite on the default interpreter, with the type and lint checks.
test: lint suite

lint: $(VENV)/.installed
	$(PY) -m ruff check src tests examples benchmarks docs/hooks.py setup.py
	$(PY) -m ruff format --check src tests examples benchmarks docs/hooks.py setup.py
	$(PY) -m mypy

# Twice: with the compiled hot paths (src/mpsc/_accel.c, src/mpsc/process/_steps.c) and with the
# pure-Python ones alone (the second time without the Redis flavour's own tests and the process
# flavour's async ones, which that choice does not reach: see tests/conftest.py).
suite: $(VENV)/.installed redis-server
	$(PY) -m pytest $(PYTEST_ARGS)
	MPSC_PURE=1 $(PY) -m pytest --implementation-only $(PYTEST_ARGS)

# tests/test_redis.py runs a real redis-server (Debian's package), installed here when missing.
redis-server:
	@command -v redis-server >/dev/null 2>&1 || { \
		echo "installing redis-server (Debian's package) for the tests of mpsc.redis"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get install -y redis-server || { $$SUDO apt-get update && $$SUDO apt-get install -y redis-server; }; \
	} || { echo "could not install redis-server: install Debian's redis-server package" \
		"(apt-get install redis-server) or put a redis-server on PATH, then run make again" >&2; exit 1; }

# The C extensions compiled with AddressSanitizer and UBSan into a scratch copy of the package,
# and the tests that drive every entry point of it. CPython itself is not instrumented: the
# sanitizers' runtimes are preloaded, and objects come from malloc so that ASan sees them.
ASAN_DIR := build/asan
ASAN_TESTS ?= tests/test_accel.py tests/test_implementations.py tests/test_select_model.py tests/test_queues.py \
	tests/test_interrupts.py tests/test_process_steps.py tests/test_process.py tests/test_ring.py \
	tests/test_process_ring.py
ASAN_ENV = LD_PRELOAD="$$(gcc -print-file-name=libasan.so) $$(gcc -print-file-name=libubsan.so)" \
	ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	PYTHONMALLOC=malloc PYTHONPATH=$(ASAN_DIR)
ASAN_CC = gcc -shared -fPIC -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
	-fno-sanitize-recover=undefined -Wall -Werror \
	-I"$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"
EXT_SUFFIX = $$($(PY) -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')
asan: $(VENV)/.installed
	rm -rf $(ASAN_DIR) && mkdir -p $(ASAN_DIR)
	cp -r src/mpsc $(ASAN_DIR)/ && find $(ASAN_DIR) -name '*.so' -delete
	$(ASAN_CC) src/mpsc/_accel.c -o $(ASAN_DIR)/mpsc/_accel$(EXT_SUFFIX)
	$(ASAN_CC) src/mpsc/process/_steps.c -o $(ASAN_DIR)/mpsc/process/_steps$(EXT_SUFFIX)
	$(ASAN_CC) src/mpsc/process/_ring.c -o $(ASAN_DIR)/mpsc/process/_ring$(EXT_SUFFIX)
	$(ASAN_ENV) $(PY) -c 'import mpsc._accel as a; assert "/$(ASAN_DIR)/" in a.__file__, a.__file__'
	$(ASAN_ENV) $(PY) -c 'import mpsc.process._implementation as i; assert "/$(ASAN_DIR)/" in i.COMPILED.__file__'
	$(ASAN_ENV) $(PY) -c 'import mpsc.process._rings as r; assert "/$(ASAN_DIR)/" in r.RING.__file__'
	$(ASAN_ENV) $(PY) -m pytest -q -p no:cacheprovider $(ASAN_TESTS)

# What users get: the sdist and the wheel (build), checked by twine; the sdist installed by pip
# in fresh venvs, on a machine without a C compiler (CC=false: the build of the extension fails,
# the pure-Python package installs and works) and with one, each passing tests against it.
# The suite run against each installed sdist is a part of it that touches every module (the
# thread channels, select, asyncio, and through the examples the process and Redis flavours; the
# whole suite runs on every interpreter anyway): MPSC_PACKAGING_TESTS=tests for all of it.
MPSC_PACKAGING_TESTS ?= tests/test_api.py tests/test_select.py tests/test_examples.py
packaging: $(VENV)/.installed
	$(PY) -m pip install -q $$($(EXTRA) packaging)
	MPSC_PACKAGING_TESTS="$(MPSC_PACKAGING_TESTS)" \
		$(PY) -m pytest -q -p no:cacheprovider --packaging tests/test_packaging.py

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

# The documentation site (mkdocs.yml, docs/), built into site/ with warnings as errors (a broken
# link or reference fails it); site/index.html opens from disk. Its tools are the docs extra.
$(VENV)/.docs-installed: $(VENV)/.installed pyproject.toml
	$(PY) -m pip install -q $$($(EXTRA) docs)
	touch $@

# (Not --quiet: it drops the warnings before --strict counts them.)
docs: $(VENV)/.docs-installed
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict --clean

clean:
	rm -rf site .venv .venv-* build dist src/*.egg-info src/mpsc/*.so src/mpsc/process/*.so .pytest_cache .mypy_cache .ruff_cache .hypothesis
