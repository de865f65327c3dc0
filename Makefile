# LAION Lens tasks. `make help` lists them.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8001
HOST ?= 127.0.0.1
DATA ?=
DEMO_SAMPLE := demo/aesthetics-6plus-demo.parquet
ifeq ($(strip $(DATA)),)
DB ?= data/demo.db
else
DB ?= data/laion.db
endif

.DEFAULT_GOAL := help
.PHONY: help install install-dev demo ingest serve test lint bench

help: ## List the tasks
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'
	@echo "  Variables: DATA=<parquet file|folder|http(s) URL>  DB=$(DB)  PORT=$(PORT)  HOST=$(HOST)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -e '.[clip,test]'
	touch $(VENV)/.installed $@

install: $(VENV)/.installed ## Create .venv with the search server (no CLIP stack)

install-dev: $(VENV)/.installed-dev ## Create .venv with the CLIP stack and test tools

demo: install ## Build a demo database (DATA=... for real shards) and serve it
	@mkdir -p $(dir $(DB))
	$(BIN)/laionlens ingest $(if $(strip $(DATA)),$(DATA),$(DEMO_SAMPLE)) --db $(DB)
	$(BIN)/laionlens serve --db $(DB) --host $(HOST) --port $(PORT)

ingest: install ## Ingest DATA (parquet file, folder or URL) into DB
	@test -n "$(DATA)" || { echo "Set DATA, e.g. make ingest DATA=part-00000.parquet"; exit 2; }
	@mkdir -p $(dir $(DB))
	$(BIN)/laionlens ingest $(DATA) --db $(DB)

serve: install ## Serve DB (default data/demo.db) on HOST:PORT
	$(BIN)/laionlens serve --db $(DB) --host $(HOST) --port $(PORT)

test: install-dev ## Run the test suite (set LAIONLENS_SAMPLE to include the real-sample tests)
	$(BIN)/python -m pytest -ra $(PYTEST_ARGS)

lint: install-dev ## Check the code with ruff
	$(BIN)/ruff check laionlens ingest plugins tests bench

BENCH_DIR ?= bench/out

bench: install-dev ## Run every benchmark (over an hour; needs LAIONLENS_SAMPLE)
	@test -n "$(LAIONLENS_SAMPLE)" || { echo "Set LAIONLENS_SAMPLE to the 10,000-row LAION sample"; exit 2; }
	@mkdir -p $(BENCH_DIR)
	$(BIN)/python -m bench.ingest_speed --work $(BENCH_DIR)
	$(BIN)/python -m bench.ingest_12m --parquet $(BENCH_DIR)/laion-12m.parquet --db $(BENCH_DIR)/laion-12m.db
	$(BIN)/python -m bench.search_latency --db $(BENCH_DIR)/laion-12m.db
	$(BIN)/python -m bench.pages_speed --db $(BENCH_DIR)/laion-12m.db
	$(BIN)/python -m bench.remove_speed --db $(BENCH_DIR)/laion-12m.db --work $(BENCH_DIR)/remove
	$(BIN)/python bench/vectors_recall.py --count 1000000 --work-dir $(BENCH_DIR)/vectors
	$(BIN)/python -m bench.clip_text
