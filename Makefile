# Two commands on a fresh machine: `make demo` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint format dev clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: install
	$(BIN)/snowplow-dagster demo

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	$(BIN)/pytest

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The Dagster UI on the persistent instance `make demo` and `snowplow-dagster run` write to:
# $DAGSTER_HOME when set, else .dagster_home/ here (SQLite), given this project's dagster.yaml
# when it has none, with the bundled config's folders under snowplow-demo/.
# `make dev PORT=3001 HOST=0.0.0.0` serves elsewhere.
SNOWPLOW_DAGSTER_HOME ?= $(CURDIR)/snowplow-demo
DAGSTER_HOME ?= $(CURDIR)/.dagster_home
PORT ?= 3000
HOST ?= 127.0.0.1
dev: install
	mkdir -p "$(abspath $(DAGSTER_HOME))"
	test -e "$(abspath $(DAGSTER_HOME))/dagster.yaml" || cp dagster.yaml "$(abspath $(DAGSTER_HOME))/"
	SNOWPLOW_DAGSTER_HOME="$(abspath $(SNOWPLOW_DAGSTER_HOME))" DAGSTER_HOME="$(abspath $(DAGSTER_HOME))" \
		$(BIN)/dagster dev -w workspace.yaml -h $(HOST) -p $(PORT)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
