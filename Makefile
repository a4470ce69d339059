# The two commands (make demo, make test) and the gate (make check). Each sets itself up on first
# use: it creates .venv/ with Python 3.11+ and installs gridshift into it (again when
# pyproject.toml changes).

PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
	2>/dev/null && echo $$p && break; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test check bench fuzz clean

$(STAMP): pyproject.toml
	@if [ -z "$(PYTHON)" ]; then echo "gridshift needs Python 3.11 or newer on PATH" >&2; exit 1; fi
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@echo "compiling the planner's kernels (once per install, about 20 s)"
	$(BIN)/python -c 'from gridshift.bench.instances import warm_up; warm_up()'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/gridshift demo

test: $(STAMP)
	$(BIN)/python -m pytest

check: $(STAMP)
	$(BIN)/ruff format --check src tests scripts benchmarks
	$(BIN)/ruff check src tests scripts benchmarks
	$(BIN)/mypy src

bench: $(STAMP)
	$(BIN)/python -m pytest benchmarks --benchmark-enable --benchmark-only

# 10,000 generated inputs for every parser's property tests (RELIABILITY.md) and 1,000 per API
# operation (schemathesis); minutes, not in CI.
fuzz: $(STAMP)
	GRIDSHIFT_FUZZ=1 $(BIN)/python -m pytest tests/test_parsers_property.py tests/test_provider_*.py \
		tests/test_api_schemathesis.py -q

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis .benchmarks
