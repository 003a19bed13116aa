# bedrock-gateway: everything a newcomer needs is one of these targets.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
EMULATOR_PORT ?= 4010
STAMP  := $(VENV)/.installed
# The gateway as a platform team installs it (`pip install .` on the hashed runtime lock, in a
# virtualenv of its own): `make test` runs every end-to-end test against this copy, the gateways
# tests start as processes (its interpreter) and those they run in-process (package-only/ holds
# just the installed package, first on PYTHONPATH; `pytest`, not `python -m pytest`, so the
# working directory's checkout does not come first).
INSTALLED := .venv-installed
# Where the runbooks (docs/deploy.md) are published: the one base of every alert's runbook_url.
RUNBOOK_BASE_URL ?= https://github.com/example-org/bedrock-gateway/blob/main/docs/deploy.md

.PHONY: help venv installed demo demo-observability run test test-fast lint bench bench-hostile soak \
        tools image lock clean k8s-rules deploy-check

# Every target carries a `## description`; `make help` prints them all (a test checks that).
help: ## list every target with what it does
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "make %-20s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# requirements/dev-lock.txt is the hashed resolver output (runtime pins + test tools), so pip
# installs exactly the tested set and `pip check` holds; the package itself goes on top, editable.
$(STAMP): requirements/lock.txt requirements/dev-lock.txt setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements/dev-lock.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/python -m pip check
	touch $(STAMP)

venv: $(STAMP) ## the virtualenv .venv from requirements/dev-lock.txt (hashed), package editable

# pip always rebuilds and reinstalls a local directory (a wheel of this checkout, seconds), so
# the installed copy is never older than the code under test.
installed: ## .venv-installed: `pip install .` on requirements/lock.txt in its own venv, then pip check
	test -x $(INSTALLED)/bin/python || $(PYTHON) -m venv $(INSTALLED)
	$(INSTALLED)/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements/lock.txt
	rm -rf build  # setuptools' build/lib would carry modules deleted since into the wheel
	$(INSTALLED)/bin/python -m pip install --quiet --disable-pip-version-check .
	$(INSTALLED)/bin/python -m pip check
	rm -rf $(INSTALLED)/package-only && mkdir -p $(INSTALLED)/package-only
	ln -s "$$($(INSTALLED)/bin/python -I -c 'import bedrock_gateway, os; print(os.path.dirname(bedrock_gateway.__file__))')" $(INSTALLED)/package-only/bedrock_gateway

tools: ## install the test tools (promtool and chromium with apt-get; says what it installs)
	bash scripts/install-tools.sh

demo: venv ## gateway on the bundled Bedrock emulator (PORT=8000 unless given)
	$(BIN)/python scripts/demo.py --port $(PORT) --emulator-port $(EMULATOR_PORT)

demo-observability: venv tools ## the demo plus a Prometheus server with the alert rules
	$(BIN)/python scripts/demo.py --port $(PORT) --emulator-port $(EMULATOR_PORT) --prometheus

run: venv ## gateway on real Amazon Bedrock (standard AWS credential chain)
	$(BIN)/python -m bedrock_gateway --port $(PORT)

lint: venv ## import-linter contracts, ruff (every Python tree), mypy (the package and scripts)
	$(BIN)/lint-imports
	$(BIN)/ruff check bedrock_gateway tests scripts bench
	$(BIN)/mypy

test: venv tools installed lint ## the whole test suite (what CI runs): lint, then e2e against the pip-installed gateway
	$(BIN)/python -m pip check
	BEDROCK_GATEWAY_TEST_PYTHON=$(CURDIR)/$(INSTALLED)/bin/python \
	PYTHONPATH=$(CURDIR)/$(INSTALLED)/package-only:$(CURDIR) $(BIN)/pytest -q -p no:cacheprovider

test-fast: venv ## the unit tests only
	$(BIN)/python -m pytest -q -x tests/unit

bench: venv ## benchmark, writes bench-results/
	$(BIN)/python -m bench --out bench-results

# The fault soak (not part of `make test`, which runs a 30 s, 100-client version of it).
SOAK_ARGS ?=
soak: venv ## fault soak, 1,000 clients x 10 min on 1 then 2 regions (SOAK_ARGS to change)
	$(BIN)/python -m bench.soak --out bench-results $(SOAK_ARGS)

bench-hostile: venv ## peak RSS under hostile load (images, 20 MB bodies, slowloris): docs/security.md
	$(BIN)/python -m bench.hostile --out bench-results

image: ## build docker/Dockerfile (needs a Docker engine)
	docker build -f docker/Dockerfile -t bedrock-gateway:dev .

# Recompile the hashed locks with uv (after changing setup.cfg or requirements/dev.in).
lock: venv ## recompile requirements/lock.txt and dev-lock.txt (UPGRADE=1 to move pins)
	$(BIN)/python scripts/lock.py

clean: ## remove the virtualenv, bench results and build leftovers
	rm -rf $(VENV) $(INSTALLED) bench-results .pytest_cache .mypy_cache .ruff_cache *.egg-info

# Regenerate k8s/base/prometheusrule.yaml and the dashboard copy from config/ (the one source).
k8s-rules: venv ## regenerate the PrometheusRule and dashboard ConfigMap file; RUNBOOK_BASE_URL=... relinks runbooks
	$(BIN)/python k8s/tools/render_prometheusrule.py --runbook-base "$(RUNBOOK_BASE_URL)"

deploy-check: venv tools ## the deployment checks only (kustomize, schemas, promtool, hadolint)
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/deploy
