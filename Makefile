# `make app`, `make test` and `make bench` work from a fresh clone with only Python 3.11 and pip.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: app test lint bench install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The dashboard on the bundled models (http://localhost:8501; APP_ARGS="--port 8600" etc.).
app: $(STAMP)
	$(BIN)/mcc app $(APP_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy synth evalkit mcc_core mcc_cli mcc_app

test: lint
	$(BIN)/python -m pytest -q -n 2

bench: $(STAMP)
	@for script in benchmarks/bench_*.py; do \
		echo "== $$script"; $(BIN)/python $$script || exit 1; \
	done

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
