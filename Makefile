# Two commands from a fresh clone: `make demo` and `make test`.
# Both create .venv on first use. TORCH picks the torch requirement installed
# there: the default pin takes a CPU wheel where one lies on disk; elsewhere it
# comes from PyPI. Keep an existing install with TORCH=torch, or pick a CPU-only
# build with PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu.
PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
BIN := $(VENV)/bin

.PHONY: demo example test lint wheel-check bench docs clean FORCE

# Rewritten only when TORCH or PIP_EXTRA_INDEX_URL differ from the last install's,
# so that `make test TORCH=...` on an existing .venv installs what it says.
$(VENV)/.settings: FORCE
	@mkdir -p $(VENV)
	@echo "$(TORCH) $(PIP_EXTRA_INDEX_URL)" | cmp -s - $@ || echo "$(TORCH) $(PIP_EXTRA_INDEX_URL)" > $@

$(VENV)/.installed: pyproject.toml $(VENV)/.settings
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

demo: $(VENV)/.installed
	$(BIN)/bilstm-hooks demo

example: $(VENV)/.installed
	$(BIN)/python examples/quickstart.py

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest
	$(MAKE) --no-print-directory wheel-check

# the built wheel in a fresh venv holding only torch: what a plain `pip install` gets
wheel-check: $(VENV)/.installed
	scripts/check_wheel.sh $(BIN)/python $(PYTHON) "$(TORCH)"

bench: $(VENV)/.installed
	$(BIN)/python benchmarks/overhead.py

docs: $(VENV)/.installed
	$(BIN)/mkdocs serve

FORCE:

clean:
	rm -rf $(VENV) site .pytest_cache .mypy_cache .ruff_cache .hypothesis
