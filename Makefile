# The two commands a newcomer needs: `make run` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint chromium wrk audio-tools worker clean bench bench-quick bench-profile bench-scale \
	bench-partitioning bench-recordings bench-recordings-quick soak schema

# Reinstalled only when a requirements file changes.
$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check --upgrade pip
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

## run: set up, migrate, create a local admin and webhook secret, load the consent IVR
##      (calls/flows/examples), serve on 127.0.0.1:8000, and on a new database play seven
##      demo calls through the emulator
# The secret comes first, so that migrate (which runs the system checks) never warns
# about a secret that is about to exist; the banner names an account only when it made one.
run: $(VENV)/.installed
	$(PY) manage.py dev_setup --secret-only
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput --verbosity 0
	$(PY) manage.py dev_setup --url http://$(HOST):$(PORT)
	@echo "  Demo:     seven calls are played once the server is up (new database only)"
	$(PY) manage.py simulate_call --demo --wait 60 --base-url http://$(HOST):$(PORT) &
	$(PY) manage.py runserver $(HOST):$(PORT)

## test: set up, lint, check migrations, run every test
test: $(VENV)/.installed chromium wrk audio-tools lint
	$(PY) manage.py makemigrations --check --dry-run
	$(PY) -m pytest

# The admin's browser tests drive the system's Chromium from Debian rather than a
# browser Playwright downloads. Installed once, with apt, when it is missing.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
chromium:
	@command -v chromium >/dev/null || { \
		echo "Installing Debian's chromium for the admin's browser tests..."; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; \
	}

# The emulator's voice (espeak-ng speaks each `say`, sox makes it an 8 kHz phone line),
# from Debian, like chromium. Without them the emulator's recordings are a quiet tone.
audio-tools:
	@command -v espeak-ng >/dev/null && command -v sox >/dev/null || { \
		echo "Installing Debian's espeak-ng and sox for the emulator's spoken recordings..."; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq espeak-ng sox >/dev/null; \
	}

# The benchmark's load generator (and its tests), from Debian, like chromium.
wrk:
	@command -v wrk >/dev/null || { \
		echo "Installing Debian's wrk for the benchmark..."; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq wrk >/dev/null; \
	}

## bench: measure intake, answer_url and processing against a bare reference (minutes)
bench: $(VENV)/.installed wrk
	$(PY) -m bench

## bench-quick: the same in a few seconds per figure (CI: shows the harness works)
bench-quick: $(VENV)/.installed wrk
	$(PY) -m bench --quick

## bench-profile: the quick benchmark, then py-spy on gunicorn's workers under load
bench-profile: $(VENV)/.installed wrk
	$(PY) -m bench --quick --profile

## bench-scale: the admin and database at CALLS calls and 10x events (default 1,000,000)
bench-scale: $(VENV)/.installed
	$(PY) -m bench.scale $(if $(CALLS),--calls $(CALLS))

## bench-partitioning: the events table plain vs partitioned by month, ROWS rows (10,000,000)
bench-partitioning: $(VENV)/.installed
	$(PY) -m bench.partitioning $(if $(ROWS),--rows $(ROWS))

## bench-recordings: recordings' audio work: a HOURS-long recording fetched (worker memory), download
##      throughput, transcription's real-time factor and word error rate, lag beside it (~5 min)
bench-recordings: $(VENV)/.installed wrk audio-tools
	$(PY) -m bench.recordings $(if $(HOURS),--hours $(HOURS))

## bench-recordings-quick: the same with shorter phases (~1 min; the lag figures are rough)
bench-recordings-quick: $(VENV)/.installed wrk audio-tools
	$(PY) -m bench.recordings --quick

## soak: SOAK_CALLS calls (default 2000) with the broker restarted, a worker killed with kill -9
##      and PostgreSQL restarted meanwhile; 0 lost, 0 duplicated effects, every verdict holds
SOAK_CALLS ?= 2000
soak: $(VENV)/.installed audio-tools
	$(PY) -m soak --calls $(SOAK_CALLS)

## schema: regenerate docs/openapi.yaml from the views' declarations (commit it with them)
schema: $(VENV)/.installed
	$(PY) manage.py spectacular --file docs/openapi.yaml --validate --fail-on-warn

# The architecture (ARCHITECTURE.md) is checked with the style: import-linter's contracts
# in pyproject.toml, imports inside functions included.
lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache

## worker: a Celery worker and beat, for when CELERY_BROKER_URL is set (events and audio)
worker: $(VENV)/.installed
	$(VENV)/bin/celery -A minivoice_site worker --beat -Q celery,recordings --loglevel=INFO

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache .hypothesis
