# Three commands do all the set-up on a fresh machine with Python 3.11:
#   make run    create .venv if needed, install what the main job needs (no extras), compare the
#               Norfolk options with the baseline on the default region, print the summary and the
#               paths of the report and the workbook
#   make app    the same, plus the web page's extra; start pathways-app on http://127.0.0.1:8050
#               (make app PORT=8060 for another port)
#   make test   the same, plus the test, cluster and app extras and headless Chromium; the whole suite
#               (every tier: unit, model, statistical, system; markers in pyproject.toml, tests/conftest.py)
# and while working on the code:
#   make test-fast  the same extras, no browser; only the unit and model tests (-m "unit or model"): 32 s on
#                   2 idle cores, 52-57 s after a config file changes (configs composed again; 2026-12-05)
#                   pure functions, config checks and short in-process
#                   runs; no subprocesses, browser, Ray cluster or web server, no many-run statistics
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install -q --disable-pip-version-check -c constraints.txt

.PHONY: run app test test-fast bench clean browser

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip

# one stamp per set of extras, so `make run` never installs what only the tests or the cluster need
$(VENV)/.installed-run: pyproject.toml constraints.txt | $(BIN)/python
	$(PIP) -e .
	$(BIN)/python -m sim.experiment.warm
	touch $@

$(VENV)/.installed-app: $(VENV)/.installed-run
	$(PIP) -e '.[app]'
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed-run
	$(PIP) -e '.[test,cluster,app]'
	touch $@ $(VENV)/.installed-app

# The default comparison: the baseline and the Norfolk and Waveney options, two jobs at a time.
NORFOLK_OPTIONS := baseline,west_norfolk_local_plan,skills_plan_entry_retention,skills_plan_nursing_home_nurses,skills_plan_manager_succession,norfolk_waveney_system

run: $(VENV)/.installed-run
	$(BIN)/pathways -m hydra/launcher=local_parallel hydra.launcher.n_jobs=2 scenario=$(NORFOLK_OPTIONS)

PORT ?= 8050

app: $(VENV)/.installed-app
	$(BIN)/pathways-app --port $(PORT)

test: $(VENV)/.installed-test browser
	$(BIN)/python -m pytest -q -n 2

test-fast: $(VENV)/.installed-test
	$(BIN)/python -m pytest -q -n 2 -m "unit or model"

# headless Chromium and its driver for the browser tests, LibreOffice Calc and poppler's pdftotext for the
# board pack's print tests (tests/test_print.py; Debian packages; we run as root)
browser:
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ] || [ ! -x /usr/bin/soffice ] \
		|| [ ! -x /usr/bin/pdftotext ]; then \
		apt-get update -qq && apt-get install -y -qq chromium chromium-driver poppler-utils && \
		apt-get install -y -qq --no-install-recommends libreoffice-calc; \
	fi

bench: $(VENV)/.installed-test
	$(BIN)/python benchmarks/bench.py
	$(BIN)/python benchmarks/bench_cli.py

clean:
	rm -rf $(VENV) .pytest_cache
