# The verbs a person types. `make test` and `make demo` work on a fresh clone: each
# installs what it needs from this repository's own files first.
SHELL := /bin/bash
PY ?= 3.13.0
VENV := .venv
SAM_VENV := .venv-sam
PYTEST_PARALLEL ?= -n 3 --dist loadscope --no-loadscope-reorder --max-worker-restart 0
BIN := $(VENV)/bin
SAM := $(SAM_VENV)/bin/sam
CHECKOV_VENV := .venv-checkov
UV_VENV := .venv-uv
UV := $(UV_VENV)/bin/uv
export PYENV_VERSION := $(PY)
export AWS_DEFAULT_REGION ?= us-east-1
export SAM_CLI_TELEMETRY := 0

.PHONY: install lint typecheck template-lint security browser faketime unit test fuzz storm build demo up down env-vars baseline bench clean

install: $(VENV)/.installed $(SAM_VENV)/.installed

# uv installs the environments below (pip's resolver and installer took about two minutes for the
# three on a fresh machine; uv takes seconds). uv itself, pinned, comes from PyPI into an
# environment of its own. Each environment is seeded with pip, so `python -m pip` works in it.
$(UV): requirements-uv.txt
	python -m venv $(UV_VENV)
	$(UV_VENV)/bin/python -m pip install --quiet -r requirements-uv.txt
	touch $@

# The project environment: runtime layer + test tooling, on Python 3.13 like Lambda; then the
# project itself, editable (its dependencies are the layer's, installed just before), which puts
# the `model-medic` command in $(BIN).
$(VENV)/.installed: requirements-dev.txt layers/common/requirements.txt pyproject.toml $(UV)
	$(UV) venv --quiet --seed --allow-existing --python "$$(python -c 'import sys; print(sys.executable)')" $(VENV)
	$(UV) pip install --quiet --python $(BIN)/python -r requirements-dev.txt
	$(UV) pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $@

# aws-sam-cli pins an older boto3: it gets an environment of its own.
$(SAM_VENV)/.installed: requirements-sam.txt $(UV)
	$(UV) venv --quiet --seed --allow-existing --python "$$(python -c 'import sys; print(sys.executable)')" $(SAM_VENV)
	$(UV) pip install --quiet --python $(SAM_VENV)/bin/python -r requirements-sam.txt
	touch $@

# checkov pins its own dependencies: an environment of its own too.
$(CHECKOV_VENV)/.installed: requirements-checkov.txt $(UV)
	$(UV) venv --quiet --seed --allow-existing --python "$$(python -c 'import sys; print(sys.executable)')" $(CHECKOV_VENV)
	$(UV) pip install --quiet --python $(CHECKOV_VENV)/bin/python -r requirements-checkov.txt
	touch $@

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Strict mypy over the layer, the local cloud, the benchmarks and the tests (pyproject.toml), then
# the handlers: every one is a file called app.py, but with explicit_package_bases and "." on
# mypy_path each is a module of its own (functions.<name>.app), so one run checks them all.
typecheck: install
	$(BIN)/mypy
	$(BIN)/mypy functions/*/app.py

template-lint: install
	$(BIN)/cfn-lint template.yaml
	$(SAM) validate --lint --template template.yaml

# checkov on what CloudFormation deploys: the SAM-transformed template (the roles, permissions,
# event invoke configs and subscriptions SAM generates exist only there). 0 failed, or the
# target fails; every skip is a checkov Metadata entry with its reason beside its resource.
# Offline: no Prisma Cloud download (--skip-download, BC_SKIP_MAPPING), no version check.
security: install $(CHECKOV_VENV)/.installed
	@work=$$(mktemp -d) && trap 'rm -rf "$$work"' EXIT && \
	  $(BIN)/python -m localcloud.sam "$$work/template.json" && \
	  BC_SKIP_MAPPING=TRUE CKV_SKIP_PACKAGE_UPDATE_CHECK=true \
	  $(CHECKOV_VENV)/bin/checkov --file "$$work/template.json" --framework cloudformation \
	    --skip-download --compact --quiet

unit: install
	$(BIN)/pytest tests/unit -q

# Debian's Chromium renders the daily report in a test; installed when missing and possible
# (root with apt), else that one test says why it is skipped.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) ; } || \
	  echo "chromium could not be installed; the browser test will be skipped"

# Debian's libfaketime, for the suite's date check below; installed when missing and possible.
faketime:
	@command -v faketime >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq faketime >/dev/null) ; } || \
	  echo "faketime could not be installed; the suite runs on today's clock, without the date check"

# Everything CI runs: lint, types, template checks, security scan, the whole test suite. The
# suite runs with the wall clock 400 days ahead (libfaketime; moto, the local cloud and SAM
# included): a test that would only pass near the day it was written fails today, not in a year.
# Three workers (pytest-xdist) on CI's two cores: a local cloud's worker mostly waits on its moto
# server and function processes (each forked from one warm runner, localcloud/runner.py). Each
# module's tests run on one worker (its module-scoped local cloud is made once), a test class's
# likewise (test_events.py's rounds, each a cloud of its own, and test_fault_injection.py's
# scenarios, a class each, run side by side); the longest - the demo's module, the control loop's
# property test, the fault-injection classes - go first (marker `longest`, tests/conftest.py),
# the others in the order collected rather than largest first. A worker that dies is not replaced:
# pytest-xdist's loadscope scheduler can deadlock after replacing one (its issue #1378), so the run
# ends at once, failing, and names the test the worker died in, instead of hanging. A worker has
# died that way, rarely, with a segfault inside CPython 3.13.0 itself (execnet's receiving thread,
# under load; no test of ours was at fault): such a run - and only such a run, recognised by
# pytest-xdist's "crashed while running" - is run once more, whole, and that run decides. A test
# that fails fails the target at once.
test: lint typecheck template-lint security browser faketime
	@log=$$(mktemp) && trap 'rm -f "$$log"' EXIT && \
	  suite() { $$(command -v faketime >/dev/null 2>&1 && echo faketime -f +400d) $(BIN)/pytest -q $(PYTEST_PARALLEL) 2>&1 | tee "$$log"; return $${PIPESTATUS[0]}; } && \
	  { suite || { status=$$?; grep -q "crashed while running" "$$log" || exit $$status; \
	    echo "make test: a pytest worker died (above); the whole suite runs once more"; suite; }; }

# A longer fuzz campaign than the suite's (tests/functional/test_fuzz.py): MUTATIONS mutated
# events per action function, a tenth per scheduled job; prints mutations, rejections,
# decisions, exceptions and events/second per function.
MUTATIONS ?= 10000
fuzz: install
	MODEL_MEDIC_FUZZ_MUTATIONS=$(MUTATIONS) $(BIN)/pytest tests/functional/test_fuzz.py -q -p no:cacheprovider --show-capture=no

# A fleet storm (tests/functional/test_storm.py; the suite runs 4 endpoints for an hour): STORM_ENDPOINTS
# endpoints' latency alarms flapping or standing for STORM_HOURS, deliveries lost and duplicated,
# STORM_FAULTS of the invocations meeting an AWS call that fails once; prints bound violations,
# budget overruns, boosts not given back, and pages and messages per endpoint per hour.
STORM_ENDPOINTS ?= 50
STORM_HOURS ?= 2
STORM_FAULTS ?= 0.1
# The functions' JSON log lines are left out of what it prints.
storm: install
	set -o pipefail; MODEL_MEDIC_STORM_ENDPOINTS=$(STORM_ENDPOINTS) MODEL_MEDIC_STORM_HOURS=$(STORM_HOURS) \
	  MODEL_MEDIC_STORM_FAULTS=$(STORM_FAULTS) \
	  $(BIN)/pytest tests/functional/test_storm.py -q -s -p no:cacheprovider -p no:logging --show-capture=no \
	  | grep -v '^{"'

build: install
	$(SAM) build --template template.yaml

# The whole service on the local cloud (moto server on 127.0.0.1): deploy, seed, scenarios.
demo: install
	$(BIN)/python -m localcloud demo

# A local cloud that stays up for `python -m localcloud invoke|alarm|tick ...`.
up: install
	$(BIN)/python -m localcloud up

down:
	$(BIN)/python -m localcloud down

# The --env-vars file of `sam local invoke` (needs Docker), from the local cloud `make up`
# started: each function's deployed variables, AWS_ENDPOINT_URL at the local cloud (or at
# ENDPOINT_URL, how a container reaches it: README "sam local invoke").
env-vars: install
	$(BIN)/python -m localcloud env-vars -o .localcloud/env.json $(if $(ENDPOINT_URL),--endpoint-url $(ENDPOINT_URL))

# Build the drift baseline of ENDPOINT from <BaselineS3Uri>/<ENDPOINT>/training.csv: in the
# local cloud (after `make up`), or in AWS with FUNCTION=<deployed ComputeDriftFunction name>.
ENDPOINT ?= churn-prod
baseline:
	@mkdir -p .localcloud
	@printf '{"build-baseline": {"endpoint": "%s"}}\n' "$(ENDPOINT)" > .localcloud/build-baseline.json
	@if [ -n "$(FUNCTION)" ]; then \
	  aws lambda invoke --function-name "$(FUNCTION)" --cli-binary-format raw-in-base64-out \
	    --payload file://.localcloud/build-baseline.json /dev/stdout; \
	else $(BIN)/python -m localcloud invoke ComputeDriftFunction -e .localcloud/build-baseline.json; fi

# Performance figures of the issues, rerunnable (moto in-process; no timed tests). The daily
# report over 500 endpoints (daily_report_fleet) keeps moto busy ~4 min and ~5 GB of memory;
# the data jobs fanned out over 100 and 500 endpoints (fanout) seed 120,000 capture files first;
# cost runs every scheduled function for a simulated hour at 1, 100 and 500 endpoints (README "Cost";
# the 500 runs far longer than the 100's ~4 min, moto slowing with the square of the fleet).
bench: install
	PYTHONPATH=.:layers/common $(BIN)/python -m benchmarks.compute_metrics
	PYTHONPATH=.:layers/common $(BIN)/python -m benchmarks.compute_drift
	PYTHONPATH=.:layers/common $(BIN)/python -m benchmarks.compute_model_quality
	PYTHONPATH=.:layers/common $(BIN)/python -m benchmarks.fanout
	PYTHONPATH=.:layers/common $(BIN)/python -m benchmarks.daily_report
	PYTHONPATH=.:layers/common $(BIN)/python -m benchmarks.cold_start
	PYTHONPATH=.:layers/common $(BIN)/python -m benchmarks.fleet
	PYTHONPATH=.:layers/common $(BIN)/python -m benchmarks.daily_report_fleet
	PYTHONPATH=.:layers/common $(BIN)/python -m benchmarks.policy
	PYTHONPATH=.:layers/common $(BIN)/python -m benchmarks.canary
	PYTHONPATH=.:layers/common $(BIN)/python -m benchmarks.component_judge
	PYTHONPATH=.:layers/common $(BIN)/python -m benchmarks.promote_canary
	PYTHONPATH=.:layers/common $(BIN)/python -m benchmarks.cost

clean:
	rm -rf .aws-sam .localcloud .pytest_cache .mypy_cache .ruff_cache
