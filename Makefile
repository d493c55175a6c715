# cvlib course. Two commands on a fresh machine with Python 3.11 and make:
#   make run    set up .venv, then execute every notebook in full mode (make run NB=01 for one)
#   make test   set up .venv, then the unit/property/parity tests and every notebook in fast mode

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
NB     ?=
# pytest-xdist: two workers on a 2-core laptop; --dist loadfile keeps a notebook's cells on one kernel
WORKERS ?= 2

.PHONY: setup run test lab bench clean help

help:
	@echo "make run [NB=01]   execute the notebooks in full mode -> build/REPORT.md"
	@echo "make test          unit, property and parity tests + every notebook in fast mode"
	@echo "make lab           JupyterLab on the course"
	@echo "make bench         speed and parity benchmarks against the references"
	@echo "make clean         remove build outputs and caches (keeps .venv and data/)"

$(STAMP): requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

setup: $(STAMP)

run: setup
	$(BIN)/python tools/run_notebooks.py $(if $(NB),--only $(NB))

test: setup
	CVLIB_FAST=1 TF_CPP_MIN_LOG_LEVEL=2 $(BIN)/python -m pytest -n $(WORKERS) --dist loadfile \
		--nbval-lax --nbval-current-env --nbval-cell-timeout=900 tests notebooks

lab: setup
	$(BIN)/jupyter lab notebooks

bench: setup
	TF_CPP_MIN_LOG_LEVEL=2 $(BIN)/python benchmarks/run.py

clean:
	rm -rf build .pytest_cache .ruff_cache .hypothesis
	find . -name __pycache__ -not -path "./$(VENV)/*" -prune -exec rm -rf {} +
