# Each target creates its own virtual environment in .venv on first use.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test unit lint bench venv clean

$(BIN)/fleetscale: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

venv: $(BIN)/fleetscale

demo: venv
	$(BIN)/fleetscale demo

test: venv
	bash scripts/test.sh

unit: venv
	$(BIN)/pytest -q tests/unit

lint: venv
	$(BIN)/ruff check $(wildcard src tests bench)
	$(BIN)/mypy --strict src

bench: venv
	$(BIN)/python bench/quality.py

clean:
	rm -rf $(VENV) .services .pytest_cache
