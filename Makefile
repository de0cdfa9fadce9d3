# `make run` and `make test` each set up a fresh machine by themselves: only Python 3.11 is needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint examples bench fuzz picture clean

$(STAMP): pyproject.toml setup.py trialport/mapping/criteria.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)  ## convert seeds/ to every format into out/ and print the run report
	$(BIN)/trialport convert seeds --out out

test: $(STAMP)  ## the whole suite, server tests included
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check trialport tests examples benchmarks fuzz
	$(BIN)/ruff format --check trialport tests examples benchmarks fuzz

examples: $(STAMP)  ## regenerate examples/out from seeds/
	rm -rf examples/out
	$(BIN)/trialport convert seeds --out examples/out

bench: $(STAMP)  ## records/s and peak memory of readers, pipelines and exporters, beside the limit and the baseline: benchmarks/results.md
	$(BIN)/python benchmarks/run.py --sizes 10000,100000
	$(BIN)/python benchmarks/sync.py --size 10000

fuzz: $(STAMP)  ## fuzz the seed-layout and CSV readers for FUZZ_SECONDS (default 60) each; crashes land in build/fuzz/crashes/
	$(BIN)/python -m pip install --quiet -e '.[fuzz]'
	FUZZ_SECONDS=$${FUZZ_SECONDS:-60} PYTHON=$(BIN)/python fuzz/run.sh

picture: $(STAMP)  ## docs/endpoints.png: the Endpoints sheet as LibreOffice shows it (needs libreoffice-calc, poppler-utils)
	rm -rf build/picture && $(BIN)/trialport convert seeds --to xlsx --out build/picture
	soffice --headless --norestore --convert-to pdf --outdir build/picture build/picture/endpoints.xlsx
	pdftoppm -png -r 160 -f 1 -l 1 -x 60 -y 90 -W 1150 -H 620 -singlefile build/picture/endpoints.pdf docs/endpoints

clean:
	rm -rf $(VENV) out .pytest_cache
