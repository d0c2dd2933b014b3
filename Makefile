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

# The Dagster UI on the persistent local instance `make demo` writes to (SQLite under
# .dagster_home/), with the bundled config's folders under snowplow-demo/.
SNOWPLOW_DAGSTER_HOME ?= $(CURDIR)/snowplow-demo
dev: install
	mkdir -p .dagster_home
	ln -sf ../dagster.yaml .dagster_home/dagster.yaml
	SNOWPLOW_DAGSTER_HOME=$(SNOWPLOW_DAGSTER_HOME) DAGSTER_HOME=$(CURDIR)/.dagster_home \
		$(BIN)/dagster dev -w workspace.yaml

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
