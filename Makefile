# Two commands do all the set-up on a fresh machine with Python 3.11:
#   make run    create .venv if needed, install, compare the Norfolk options with the baseline
#               on the default region, print the summary and the report's path
#   make test   the same set-up, then the whole test suite
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test bench clean browser

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[test,cluster]'
	touch $(STAMP)

# The default comparison: the baseline and the Norfolk and Waveney options, two jobs at a time.
NORFOLK_OPTIONS := baseline,west_norfolk_local_plan,skills_plan_entry_retention,skills_plan_nursing_home_nurses,skills_plan_manager_succession,norfolk_waveney_system

run: $(STAMP)
	$(BIN)/pathways -m hydra/launcher=local_parallel hydra.launcher.n_jobs=2 scenario=$(NORFOLK_OPTIONS)

test: $(STAMP) browser
	$(BIN)/python -m pytest -q -n 2

# headless Chromium and its driver for the report's browser test (Debian packages; we run as root)
browser:
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then \
		apt-get update -qq && apt-get install -y -qq chromium chromium-driver; \
	fi

bench: $(STAMP)
	$(BIN)/python benchmarks/bench.py

clean:
	rm -rf $(VENV) .pytest_cache
