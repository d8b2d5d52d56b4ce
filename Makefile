# `make demo` and `make test` set everything up on a fresh machine (Python 3.11+), then run.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# torch is pinned to the CPU build that this project is tested with.
TORCH  := torch==2.13.0

.PHONY: demo test lint typecheck doctest check bench clean chromium

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q "$(TORCH)"
	$(BIN)/python -m pip install -q -e ".[all,dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/trainready demo

# Headless Chromium for the HTML report's browser test (tests/test_demo.py), which skips
# without it: a no-op when installed, installed with apt-get as root, skipped otherwise.
chromium:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing chromium (apt-get) for the report's browser test"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium \
	    >/dev/null) || echo "chromium: apt-get failed; the browser test will be skipped"; \
	else echo "chromium: not installed and apt-get is not usable (not root);" \
	  "the report's browser test will be skipped"; fi

# Two pytest workers on two cores: one BLAS/OpenMP thread each, or they oversubscribe 10-30x.
test: $(STAMP) chromium
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 \
	  $(BIN)/python -m pytest -q -n 2 --dist loadfile

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

# mypy --strict on src/ (pyproject.toml: [tool.mypy] strict = true, files = src/trainready)
typecheck: $(STAMP)
	$(BIN)/mypy --strict

# Every docstring example runs; modules whose optional dependency is missing are skipped
# (conftest.py at the root).
doctest: $(STAMP)
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 \
	  $(BIN)/python -m pytest -q --doctest-modules src

# What CI runs: lint, types, doctests, then the test suite.
check: lint typecheck doctest test

bench: $(STAMP)
	for f in benchmarks/*.py; do $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) build dist .pytest_cache .hypothesis
