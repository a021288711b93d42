# PhotoSync's single entry point. `make run` and `make test` are the README's two commands.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
ADDR   ?= 127.0.0.1:8000
# The test suite's production configuration (the services .ci/run starts when absent).
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/test
TEST_REDIS_URL    ?= redis://127.0.0.1:6379/0

.PHONY: run test test-production test-embedded lint install install-test clean bench bench-smoke

$(BIN)/python:
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "PhotoSync needs Python 3.11+"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[ml,test]'
	touch $@ $(VENV)/.installed

.env: | $(VENV)/.installed
	$(BIN)/python -m photosync.envfile .env --addr $(ADDR)

$(VENV)/.installed-bench: pyproject.toml $(VENV)/.installed-test
	$(BIN)/pip install --quiet -e '.[ml,test,bench]'
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

## run: install into .venv and serve the app with a demo store on the embedded defaults
run: $(VENV)/.installed .env
	$(BIN)/python manage.py serve --demo $(ADDR)

## test: install everything and run the whole suite, on PostgreSQL+Redis and on the embedded defaults
test: install-test lint test-production test-embedded

lint: install-test
	$(BIN)/ruff check .

test-production: install-test
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(BIN)/python -m pytest $(PYTEST_ARGS)

# The pure pipeline tests do not touch the database or broker: run them once, above.
test-embedded: install-test
	env -u DATABASE_URL -u REDIS_URL $(BIN)/python -m pytest --ignore=tests/pipeline $(PYTEST_ARGS)

# Benchmarks (bench/, docs/benchmarks.md) on the same PostgreSQL and Redis as the tests.
BENCH_ENV = BENCH_DATABASE_ADMIN_URL=$(TEST_DATABASE_URL) BENCH_REDIS_URL=$(TEST_REDIS_URL)

## bench: run every benchmark (about half an hour), then write docs/benchmarks.md
bench: $(VENV)/.installed-bench
	$(BENCH_ENV) $(BIN)/python bench/run.py

## bench-smoke: every benchmark in its few-second smoke mode (CI keeps them working)
bench-smoke: $(VENV)/.installed-bench
	$(BENCH_ENV) $(BIN)/python bench/run.py --smoke

clean:
	rm -rf $(VENV) var
