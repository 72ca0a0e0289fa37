# Everything a fresh machine needs lives here: `make run` and `make test` install what they use.
PY      ?= python3.11
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed

.PHONY: run install softhsm test lint bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# SoftHSM2 (Debian's package) backs the PKCS#11 key store's tests.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
softhsm:
	@command -v softhsm2-util >/dev/null || $(SUDO) apt-get install -y -q softhsm2 \
		|| ($(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q softhsm2)

run: install
	$(BIN)/hub run

test: install softhsm
	$(BIN)/python -m pytest -q --durations=15 tests

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy hub.py cli.py canonical adapters routes security store gateway sandbox desk

bench: install
	$(BIN)/hub bench --seconds 10

clean:
	rm -rf $(VENV) var
