# Two commands do all setup: `make run` (the service on SQLite) and `make test` (the suite).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: run test lint typecheck bench-api clean help

help:
	@echo "make run   - create .venv, install, migrate, print a first admin key, serve on 127.0.0.1:8000"
	@echo "make test  - create .venv with dev extras and run the test suite (SQLite, + PostgreSQL"
	@echo "             when PHANTOMWATCH_TEST_DATABASE_URL is set)"
	@echo "make lint typecheck bench-api clean"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Python 3.11+ is required (set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/phantomwatch migrate
	$(BIN)/phantomwatch keys bootstrap
	$(BIN)/phantomwatch serve

# The DNS tests start a real authoritative server (knot); install it when missing
# (needs root/apt; without it those tests skip and say why).
KNOTD := /usr/sbin/knotd

test: $(STAMP)
	@test -x $(KNOTD) || (apt-get update -qq && apt-get install -y -qq knot >/dev/null) || \
		echo "knot could not be installed: the DNS server tests will be skipped"
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check service tests bench migrations
	$(BIN)/ruff format --check service tests bench migrations

typecheck: $(STAMP)
	$(BIN)/mypy --strict service

bench-api: $(STAMP)
	$(BIN)/python bench/api_bench.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
