# One command each: `make run` sets up and runs the default scenario; `make test` sets up and runs the tests.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SCENARIO ?= scenarios/o2_dynamic.yaml

.PHONY: setup run smoke test test-float-path lint typecheck bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

run: setup
	$(PY) run_sim.py $(SCENARIO)

smoke: setup
	$(PY) run_sim.py scenarios/smoke.yaml

test: setup
	$(PY) -m pytest -q

# The same suite on torch's and oneDNN's plain float path (no AVX): what must be exact on every CPU
# (symbols, streams, payloads, tables) is asserted exactly there too, floats within their tolerances.
test-float-path: setup
	ATEN_CPU_CAPABILITY=default ONEDNN_MAX_CPU_ISA=SSE41 $(PY) -m pytest -q

lint: setup
	$(VENV)/bin/ruff check simnet policies tests benchmarks run_sim.py

typecheck: setup
	$(VENV)/bin/mypy

bench: setup
	for b in benchmarks/bench_*.py; do $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) *.egg-info
