# The two commands of the quick start are `make serve` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
HOST   ?= 127.0.0.1
PORT   ?= 8000
ARGS   ?= --help
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: serve test lint typecheck pytest registry bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## serve: start the API (embedded PostgreSQL unless DATABASE_URL is set), migrated and seeded
serve: $(STAMP)
	$(BIN)/registry serve --host $(HOST) --port $(PORT) --migrate --seed-if-empty

## test: ruff, mypy and the whole pytest suite against a real PostgreSQL
test: lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest

## registry: run any registry command, e.g. make registry ARGS="keys create --role steward"
registry: $(STAMP)
	$(BIN)/registry $(ARGS)

## bench: start the API as in production on N synthetic listings and measure it (make bench N=100000)
N ?= 100000
bench: $(STAMP)
	$(BIN)/python bench/run.py --n $(N)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache
