# Everything a fresh machine needs lives here: `make run` and `make test` install what they use.
PY      ?= python3.11
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed

.PHONY: run install test lint bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/hub run

test: install
	$(BIN)/python -m pytest -q --durations=15 tests

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy hub.py canonical adapters routes security store gateway sandbox

bench: install
	$(BIN)/hub bench --seconds 10

clean:
	rm -rf $(VENV) var
