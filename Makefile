# One entry point for humans and CI. `make test` and `make demo` work on a fresh machine:
# they create .venv, install the Python and npm dependencies, and start only what they need.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install test lint typecheck pytest proof pacing interop demo simulate host clean

install: $(STAMP) node_modules/.package-lock.json local.settings.json $(VENV)/checkov/.requirements.sha256 .signing/dev-key.pem

# The development key that signs erasure certificates locally (git-ignored; never a production key).
.signing/dev-key.pem: $(STAMP)
	$(BIN)/python -c "from pathlib import Path; from shared.signing import ensure_dev_key; ensure_dev_key(Path('$@'))"

# checkov (the infra checks) lives in its own venv: it pins packaging<24, pytest needs >=24.
$(VENV)/checkov/.requirements.sha256: tests/infra/requirements-checkov.txt $(STAMP)
	$(BIN)/python -m tests.infra.checkov_env

# Core Tools and `cvdsr host` read local.settings.json; start from the sample (it is git-ignored).
local.settings.json:
	cp local.settings.sample.json local.settings.json

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy .

pytest: install
	sh tests/support/setup-chromium.sh
	$(BIN)/pytest

test: lint typecheck pytest

# The proof suite in full (issue 10): >= 10,000 fuzzed requests, >= 1,000 hostile bodies through the
# host, >= 20 SIGKILLs across exports and erases with faults and 429 storms, the secret scan; it prints
# its figures. make test runs a deterministic slice of it.
proof: install
	CVDSR_PROOF=full $(BIN)/pytest tests/proof -n0 -p no:cacheprovider --timeout=3600

# Pacing across processes (issue 12): three hosts export through one 10 calls/s key; prints the 429
# share and the throughput against their bounds.
pacing: install
	CVDSR_PACING=full $(BIN)/pytest tests/pacing -n0 -p no:cacheprovider -s --timeout=1800

# Interop with a real Fides server (issue 13): the shipped connector (integrations/fides) driven by Fides
# itself. PostgreSQL and Redis come from Debian's packages, Fides from its own venv (.venv/fides).
interop: install
	sh tests/interop/setup-debian.sh
	$(BIN)/python -c "from tests.interop.fides_server import ensure_fides; ensure_fides()"
	CVDSR_INTEROP=full $(BIN)/pytest tests/interop -n0 -p no:cacheprovider --timeout=3600

demo: install
	$(BIN)/cvdsr demo

simulate: install
	$(BIN)/cvdsr simulate --seed demo

host: install
	$(BIN)/cvdsr host

clean:
	rm -rf $(VENV) node_modules .mypy_cache .pytest_cache .ruff_cache
