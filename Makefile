# Everyday commands. `make demo` and `make test` set everything up on a fresh machine by themselves.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

.PHONY: demo test lint format serve bench bench-flat bench-insights bench-production bench-export bench-seed bench-ci clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

demo: $(BIN)/.installed  ## run the dashboard on the embedded SQLite database with demo data
	$(BIN)/jobdash demo

test: $(BIN)/.installed  ## run the tests (PostgreSQL too when JOBDASH_TEST_DATABASE_URL is set)
	$(BIN)/pytest

lint: $(BIN)/.installed  ## ruff (lint and format) and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(BIN)/.installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

serve: $(BIN)/.installed  ## production server (gunicorn) on JOBDASH_DATABASE_URL
	$(BIN)/jobdash serve

bench-seed: $(BIN)/.installed  ## time `jobdash seed` of 1M jobs x 5 events into a scratch PostgreSQL database
	$(BIN)/python benchmarks/seed_speed.py

bench: $(BIN)/.installed  ## latency against the floor at 10k/100k/1M jobs: docs/performance.{md,json,png}
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	$(BIN)/python benchmarks/bench.py

bench-flat: $(BIN)/.installed  ## totals, time series, overview, counts, q at 10k/1M/10M; writers vs the previous release
	$(BIN)/python benchmarks/flat_reads.py

bench-insights: $(BIN)/.installed  ## status mix as of, transitions, time in state, stuck jobs at 10k/1M/10M; writers
	$(BIN)/python benchmarks/insights.py

bench-production: $(BIN)/.installed  ## start-up to /readyz at 10k and 10M; what recording metrics costs
	$(BIN)/python benchmarks/production.py

bench-export: $(BIN)/.installed  ## CSV export at 10M against PostgreSQL's own COPY; worker memory; disconnect
	$(BIN)/python benchmarks/export_csv.py

bench-limits: $(BIN)/.installed  ## a range on another column than the ordering's, page by page, at 1M and 10M
	$(BIN)/python benchmarks/known_limits.py

bench-upgrade: $(BIN)/.installed  ## jobdash db upgrade 0003 -> 0004 (the duration backfill) of a 10M copy
	$(BIN)/python benchmarks/upgrade_backfill.py

bench-ci: $(BIN)/.installed  ## the benchmarks at CI size (2k jobs, seconds); asserts no timings
	$(BIN)/python benchmarks/bench.py --ci
	$(BIN)/python benchmarks/flat_reads.py --ci
	$(BIN)/python benchmarks/insights.py --ci
	$(BIN)/python benchmarks/production.py --ci
	$(BIN)/python benchmarks/export_csv.py --ci
	$(BIN)/python benchmarks/known_limits.py --ci
	$(BIN)/python benchmarks/upgrade_backfill.py --ci

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
