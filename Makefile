# Quick start: `make run` (the bot; the local sandbox demo when no Slack credentials are set) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test bench install install-test clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Partnerbot needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e .
	@touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	@touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

# Real Slack when credentials are set (environment or .env), otherwise the scripted sandbox walkthrough.
run: install
	@if [ -n "$$SLACK_BOT_TOKEN" ] || grep -qs '^SLACK_BOT_TOKEN=.' .env; then \
		$(BIN)/partnerbot serve; \
	else \
		echo "No Slack credentials set: playing the demo on the local Slack sandbox."; \
		$(BIN)/partnerbot demo; \
	fi

# The whole suite on SQLite; again on PostgreSQL when PARTNERBOT_TEST_DATABASE_URL is set (.ci/run sets it).
test: install-test
	env -u PARTNERBOT_TEST_DATABASE_URL $(BIN)/pytest
	@if [ -n "$$PARTNERBOT_TEST_DATABASE_URL" ]; then \
		echo "== the same suite on PostgreSQL =="; \
		$(BIN)/pytest; \
	fi

SCALE ?= 1000000

# Long runs; `make bench SCALE=100000` for a shorter scale run.
bench: install-test
	$(BIN)/python bench/bench_ack.py --registrations $(SCALE)
	$(BIN)/python bench/bench_crm.py --deals 100000
	$(BIN)/python bench/bench_delivery.py
	$(BIN)/python bench/bench_nudges.py
	$(BIN)/python bench/bench_scale.py $(SCALE)
	$(BIN)/python bench/bench_reporting.py --registrations $(SCALE)

# Never data: partnerbot.db (or any other database) and .env stay.
clean:
	rm -rf $(VENV) .pytest_cache
