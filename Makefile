# Two commands for a fresh machine: `make demo` and `make test`.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --quiet --disable-pip-version-check
DEMO_STORE := .demo/store
DEMO_QUESTION := Where was the founder of Brightwater Labs born?

.PHONY: demo test test-fast lint install dev clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# torch first, pinned to the CPU build: an unpinned torch would pull gigabytes of CUDA.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(PIP) install torch==2.13.0
	$(PIP) install -e .
	touch $@

# The dev extras need llama-cpp-python, which has no binary wheel and compiles (about 5 minutes).
# It is built portably: ggml's native CPU detection would compile AMX kernels on a CPU that has AMX,
# and this sandbox does not let a process use AMX tiles (the server dies on its first chat
# completion); a native build carried to an older CPU dies with an illegal instruction. pip keys its
# cache of built wheels by the source, not by CMAKE_ARGS, so the wheel is built without that cache
# into a folder of ours named after the version and flags, and installed from there only
# (--only-binary). The folder is in the user's cache, so a fresh checkout on the same machine (CI)
# reuses the portable wheel instead of compiling again; set WHEEL_CACHE to put it elsewhere.
LLAMA_CPP      := llama-cpp-python==0.3.36
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
	-DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF
WHEEL_CACHE    ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/hippograph/wheels
LLAMA_WHEELS   := $(WHEEL_CACHE)/llama-cpp-$(shell echo '$(LLAMA_CPP) $(LLAMA_CMAKE_ARGS)' | sha1sum | cut -c1-12)

$(LLAMA_WHEELS)/.built: | $(BIN)/python
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=2 \
		$(PIP) wheel --no-cache-dir --no-deps --wheel-dir $(LLAMA_WHEELS) "$(LLAMA_CPP)"
	touch $@

$(VENV)/.dev-installed: $(VENV)/.installed $(LLAMA_WHEELS)/.built
	$(PIP) install --find-links $(LLAMA_WHEELS) --only-binary llama-cpp-python -e ".[dev]"
	touch $@

install: $(VENV)/.installed

dev: $(VENV)/.dev-installed

demo: install
	$(BIN)/hippograph ingest hippograph/data/sample_corpus.jsonl --store $(DEMO_STORE)
	$(BIN)/hippograph query "$(DEMO_QUESTION)" --store $(DEMO_STORE) -k 5
	@echo
	@echo "The same question with plain dense retrieval, for comparison:"
	$(BIN)/hippograph query "$(DEMO_QUESTION)" --store $(DEMO_STORE) -k 5 --method dense

# ruff's lint and format check (config in pyproject.toml); `ruff format .` fixes the format.
lint: dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	$(BIN)/python -m pytest

test-fast: lint
	$(BIN)/python -m pytest -m "not slow"

clean:
	rm -rf .demo $(VENV)
