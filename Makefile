# bedrock-gateway: everything a newcomer needs is one of these targets.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
EMULATOR_PORT ?= 4010
STAMP  := $(VENV)/.installed

.PHONY: help venv demo demo-observability run test test-fast lint bench tools image lock clean

help:
	@echo "make demo   - gateway on the bundled Bedrock emulator (PORT=$(PORT))"
	@echo "make test   - the whole test suite"
	@echo "make run    - gateway on real Amazon Bedrock (standard AWS credential chain)"
	@echo "make bench  - benchmark, writes bench-results/"
	@echo "make image  - build docker/Dockerfile (needs a Docker engine)"

# requirements/dev-lock.txt is the hashed resolver output (runtime pins + test tools), so pip
# installs exactly the tested set and `pip check` holds; the package itself goes on top, editable.
$(STAMP): requirements/lock.txt requirements/dev-lock.txt setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements/dev-lock.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/python -m pip check
	touch $(STAMP)

venv: $(STAMP)

tools:
	bash scripts/install-tools.sh

demo: venv
	$(BIN)/python scripts/demo.py --port $(PORT) --emulator-port $(EMULATOR_PORT)

demo-observability: venv tools
	$(BIN)/python scripts/demo.py --port $(PORT) --emulator-port $(EMULATOR_PORT) --prometheus

run: venv
	$(BIN)/python -m bedrock_gateway --port $(PORT)

lint: venv
	$(BIN)/lint-imports
	$(BIN)/ruff check bedrock_gateway tests scripts bench

test: venv tools
	$(BIN)/python -m pip check
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q -p no:cacheprovider

test-fast: venv
	$(BIN)/python -m pytest -q -x tests/unit

bench: venv
	$(BIN)/python -m bench --out bench-results

image:
	docker build -f docker/Dockerfile -t bedrock-gateway:dev .

# Regenerate the locks from the current virtualenv (after adding a dependency on purpose).
lock: venv
	$(BIN)/python scripts/lock.py

clean:
	rm -rf $(VENV) bench-results .pytest_cache *.egg-info

.PHONY: k8s-rules deploy-check
# Regenerate k8s/base/prometheusrule.yaml from config/prometheus/rules (the one source).
k8s-rules: venv
	$(BIN)/python k8s/tools/render_prometheusrule.py

deploy-check: venv tools
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/deploy
