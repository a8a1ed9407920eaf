# Two commands for a fresh machine: `make demo` and `make test`.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --quiet --disable-pip-version-check
DEMO_STORE := .demo/store
DEMO_QUESTION := Where was the founder of Brightwater Labs born?

.PHONY: demo test test-fast install dev clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# torch first, pinned to the CPU build: an unpinned torch would pull gigabytes of CUDA.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(PIP) install torch==2.13.0
	$(PIP) install -e .
	touch $@

# The dev extras compile llama-cpp-python (no binary wheel): about 5 minutes the first time, then
# pip's cache keeps the built wheel.
$(VENV)/.dev-installed: $(VENV)/.installed
	CMAKE_BUILD_PARALLEL_LEVEL=2 $(PIP) install -e ".[dev]"
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

test-fast: dev
	$(BIN)/python -m pytest -m "not slow"

clean:
	rm -rf .demo $(VENV)
