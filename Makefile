# Two commands for a fresh machine: `make demo` and `make test`.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --quiet --disable-pip-version-check
DEMO_STORE := .demo/store
DEMO_QUESTION := Where was the founder of Brightwater Labs born?

.PHONY: demo test install dev clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# torch first, pinned to the CPU build: an unpinned torch would pull gigabytes of CUDA.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(PIP) install torch==2.13.0
	$(PIP) install -e .
	touch $@

$(VENV)/.dev-installed: $(VENV)/.installed
	$(PIP) install -e ".[dev]"
	touch $@

install: $(VENV)/.installed

dev: $(VENV)/.dev-installed

demo: install
	$(BIN)/hippograph ingest hippograph/data/sample_corpus.jsonl --store $(DEMO_STORE)
	$(BIN)/hippograph query "$(DEMO_QUESTION)" --store $(DEMO_STORE) -k 5
	@echo
	@echo "The same question with plain dense retrieval, for comparison:"
	$(BIN)/hippograph query "$(DEMO_QUESTION)" --store $(DEMO_STORE) -k 5 --method dense

test: dev
	$(BIN)/python -m pytest

clean:
	rm -rf .demo $(VENV)
