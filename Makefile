# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
# Everything is installed into .venv from the project's own files (pyproject.toml).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.stamp-install

.PHONY: demo test lint format typecheck bench install clean fonts browser

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/ipwarn demo

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: install
	$(BIN)/mypy

# The console's browser tests drive Debian's Chromium through Playwright (`playwright install`
# cannot download browsers here); CI runs as root on a clean machine, so install it if missing.
browser:
	@test -x /usr/bin/chromium || apt-get install -y chromium fonts-noto-cjk \
		|| (apt-get update && apt-get install -y chromium fonts-noto-cjk)

test: install browser lint typecheck
	$(BIN)/python -m pytest -n 2 --dist loadgroup -q -p no:cacheprovider

bench: install
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
