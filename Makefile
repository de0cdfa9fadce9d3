# `make run` and `make test` each set up a fresh machine by themselves: only Python 3.11 is needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint examples clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)  ## convert seeds/ to every format into out/ and print the run report
	$(BIN)/trialport convert seeds --out out

test: $(STAMP)  ## the whole suite, server tests included
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check trialport tests examples benchmarks
	$(BIN)/ruff format --check trialport tests examples benchmarks

examples: $(STAMP)  ## regenerate examples/out from seeds/
	rm -rf examples/out
	$(BIN)/trialport convert seeds --out examples/out

clean:
	rm -rf $(VENV) out .pytest_cache
