# Parley: `make run` serves on http://127.0.0.1:8000 (embedded SQLite), `make test` runs the suite
# on SQLite and on PostgreSQL + Redis.
# The first of python3, python3.13, python3.12, python3.11 that is 3.11-3.13 (the versions the
# suite runs on); `make install PYTHON=/path/to/python` picks another.
SUPPORTED_PYTHON := import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 13))
PYTHON ?= $(shell for candidate in python3 python3.13 python3.12 python3.11; do \
	$$candidate -c '$(SUPPORTED_PYTHON)' >/dev/null 2>&1 && { echo $$candidate; break; }; done)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 8000
WEB_INSTALLED := web/node_modules/.installed-stamp
WEB_BUILT := web/dist/.build-stamp
WEB_SOURCES := $(shell find web/src web/scripts -type f 2>/dev/null) web/index.html \
	web/vite.config.ts web/tsconfig.json web/package.json

.PHONY: install run migrate test test-deps test-sqlite test-postgres lint format bench bench-connections bench-chaos bench-w1 bench-w2 bench-api-fuzz bench-saturation services clean

install: $(STAMP) $(WEB_BUILT)

# Idempotent: re-runs only when the lock file or project metadata change.
$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || test -n "$(PYTHON)" || (echo "make install needs Python 3.11, 3.12 \
	or 3.13 (python3, python3.13, python3.12 or python3.11 on the PATH, or PYTHON=...)"; exit 1)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

# The web client (web/, served at / by `parley serve`): npm ci when the lock changes, the
# build (type check, Vite, first-load size check) when a source changes. The build stamp
# lives in web/dist, which each build empties first, so a failed build leaves no stamp.
$(WEB_INSTALLED): web/package-lock.json
	@command -v npm >/dev/null || (echo "make install needs Node.js 18+ and npm to build web/"; exit 1)
	cd web && npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(WEB_BUILT): $(WEB_INSTALLED) $(WEB_SOURCES)
	cd web && npm run build
	touch $@

run: install
	$(BIN)/parley serve --host $(HOST) --port $(PORT)

migrate: install
	$(BIN)/parley migrate

services:
	./scripts/ensure-services.sh

# The realtime tests' npm packages: socket.io-client v4 for the compatibility test, and
# @asyncapi/specs, the official AsyncAPI JSON schemas /asyncapi.json is checked against (from
# the npm registry, not committed).
NODE_COMPAT := tests/realtime/node
$(NODE_COMPAT)/node_modules/.installed-stamp: $(NODE_COMPAT)/package-lock.json
	cd $(NODE_COMPAT) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The browser tests' npm packages (playwright-core, axe-core; tests/web/test_browser.py runs
# them in Debian's chromium, installed below).
BROWSER_TESTS := tests/browser
$(BROWSER_TESTS)/node_modules/.installed-stamp: $(BROWSER_TESTS)/package-lock.json
	cd $(BROWSER_TESTS) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

test-deps: install $(NODE_COMPAT)/node_modules/.installed-stamp $(BROWSER_TESTS)/node_modules/.installed-stamp
	command -v nginx >/dev/null || test -x /usr/sbin/nginx || apt-get install -y -q nginx-light \
		|| (apt-get update -q && apt-get install -y -q nginx-light)
	command -v chromium >/dev/null || apt-get install -y -q chromium \
		|| (apt-get update -q && apt-get install -y -q chromium)
	# Emoji as people see them (reactions) in the screenshots, not as empty boxes.
	test -f /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf \
		|| apt-get install -y -q fonts-noto-color-emoji \
		|| (apt-get update -q && apt-get install -y -q fonts-noto-color-emoji)

# The two backends' suites run side by side (each waits on its servers about half the
# time), each printed whole when it ends. More cores: TEST_ARGS="-n 4" (pytest-xdist) as well.
TEST_ARGS ?=
test: test-deps services
	$(MAKE) --no-print-directory -j2 --output-sync=target test-sqlite test-postgres

test-sqlite: test-deps
	PARLEY_TEST_BACKEND=sqlite $(BIN)/pytest $(TEST_ARGS)

test-postgres: test-deps services
	PARLEY_TEST_BACKEND=postgres $(BIN)/pytest $(TEST_ARGS)

# No Docker engine or cluster here: the Dockerfile is checked by hadolint and the Kubernetes
# manifests against the API schemas of the oldest and newest versions they are meant for
# (kustomization.yaml is kustomize's, not an API object); tests/deploy/ checks the rest.
K8S_MANIFESTS := $(filter-out deploy/k8s/kustomization.yaml,$(wildcard deploy/k8s/*.yaml))

lint: install
	$(BIN)/ruff check parley tests bench migrations examples
	$(BIN)/ruff format --check parley tests bench migrations examples
	$(BIN)/mypy parley
	$(BIN)/lint-imports
	$(BIN)/hadolint Dockerfile
	$(BIN)/kubernetes-validate --strict --quiet --kubernetes-version 1.28.0 $(K8S_MANIFESTS)
	$(BIN)/kubernetes-validate --strict --quiet --kubernetes-version 1.37.0 $(K8S_MANIFESTS)

format: install
	$(BIN)/ruff format parley tests bench migrations examples
	$(BIN)/ruff check --fix parley tests bench migrations examples

bench: install services
	command -v wrk >/dev/null || apt-get install -y -q wrk || (apt-get update -q && apt-get install -y -q wrk)
	$(BIN)/python bench/send.py
	$(BIN)/python bench/send.py --workers 2
	$(BIN)/python bench/send.py --backend sqlite
	$(BIN)/python -m bench.fanout

# 10,000 concurrent sockets on one process (about 7 minutes).
bench-connections: install services
	$(BIN)/python -m bench.connections

# Two instances behind nginx on a private PostgreSQL and Redis, SDK clients, faults (~3 minutes).
bench-chaos: test-deps
	$(BIN)/python -m bench.chaos

# W1 (issue 11): 20 Node socket.io-client members, 10 sending closed loop, against bare
# python-socketio, bare Node socket.io (npm, bench/node) and Parley on PostgreSQL + Redis and on
# SQLite, 3 repeats each (~10 minutes on a quiet machine). More options: W1_ARGS="--senders 2".
BENCH_NODE := bench/node
$(BENCH_NODE)/node_modules/.installed-stamp: $(BENCH_NODE)/package-lock.json
	cd $(BENCH_NODE) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

bench-w1: install services $(BENCH_NODE)/node_modules/.installed-stamp
	$(BIN)/python -m bench.w1 $(W1_ARGS)

# Where PostgreSQL writes (the committer alone, 1 and 2 processes) and Redis pub/sub (PUBLISH
# to 1-64 subscribers) saturate: docs/scaling.md's table.
bench-saturation: install services
	$(BIN)/python -m bench.saturation

# W2 (issue 11): 10,000 sockets (2,000 users) in 2,000 conversations of 2 to 50 members, sends
# open loop at rising rates, 1 % of the sockets reconnecting per step; per-step latencies, server
# CPU/RSS and cache hit rates, the highest rate within ack p99 < 20 ms and delivery p99 < 30 ms,
# and docs/w2.png (~15-25 minutes on a quiet machine). More options: W2_ARGS="--rates 50,100".
bench-w2: install services
	$(BIN)/python -m bench.w2 $(W2_ARGS)

# Schemathesis over /openapi.json (issue 15), `--checks all` for API_FUZZ_SECONDS (300) on
# PostgreSQL + Redis; in its own venv (pinned by bench/schemathesis.lock: its pytest plugin stays
# out of the suite's). Findings: docs/benchmarks.md, API fuzzing. API_FUZZ_ARGS="--backend sqlite".
API_FUZZ_SECONDS ?= 300
SCHEMATHESIS_VENV := .venv-schemathesis
$(SCHEMATHESIS_VENV)/.installed-stamp: bench/schemathesis.lock
	test -x $(SCHEMATHESIS_VENV)/bin/python || $(PYTHON) -m venv $(SCHEMATHESIS_VENV)
	$(SCHEMATHESIS_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r bench/schemathesis.lock
	touch $@

bench-api-fuzz: install services $(SCHEMATHESIS_VENV)/.installed-stamp
	$(BIN)/python -m bench.api_fuzz --seconds $(API_FUZZ_SECONDS) $(API_FUZZ_ARGS)

clean:
	rm -rf $(VENV) $(SCHEMATHESIS_VENV) build *.egg-info web/node_modules web/dist
