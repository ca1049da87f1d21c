# The two commands: `make run` and `make test`. Everything else is a step they use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: run test fuzz install lint typecheck unit bench bench-scale bench-open-cases faults clean browser

run: $(STAMP)  ## start the embedded stack, worker and API (Ctrl-C stops everything)
	$(BIN)/gridcase up

test: $(STAMP) lint typecheck browser  ## the whole suite against real Temporal and real PostgreSQL
	$(BIN)/pytest -q

fuzz: $(STAMP)  ## schemathesis: 50 examples per operation and the stateful phase (CI runs it)
	$(BIN)/pytest -q tests/integration/test_schema.py --fuzz-examples=50 --fuzz-stateful

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "gridcase needs Python 3.11+")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy domain workflows activities core db api worker faults

# The browser tests drive Debian's Chromium (Playwright's own browser download cannot work on a
# closed network) and need a font with Chinese glyphs to draw the console.
BROWSER_PACKAGES := chromium fonts-wqy-zenhei
browser:
	@dpkg -s $(BROWSER_PACKAGES) >/dev/null 2>&1 || \
		{ apt-get update -q && apt-get install -y -q --no-install-recommends $(BROWSER_PACKAGES); }

unit: $(STAMP)  ## the fast, pure tests only
	$(BIN)/pytest -q tests/unit

faults: $(STAMP)  ## 500 cases over HTTP while API, workers, Temporal and PostgreSQL are killed -9
	$(BIN)/python -m faults.run --cases 500

bench: $(STAMP)
	$(BIN)/python -m bench.lifecycle

bench-scale: $(STAMP)  ## lifecycles with 1 API + 1 worker, then 2 + 2, as separate processes
	$(BIN)/python -m bench.scale

bench-open-cases: $(STAMP)  ## 5,000 open cases on their timers, the worker restarted under them
	$(BIN)/python -m bench.open_cases

clean:
	rm -rf $(VENV) .gridcase .pytest_cache .mypy_cache .ruff_cache
