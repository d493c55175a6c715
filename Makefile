# cvlib course. Two commands on a fresh machine with Python 3.11 and make:
#   make run    set up .venv, then execute every notebook in full mode (make run NB=01 for one)
#   make test   set up .venv, then the unit/property/parity tests and every notebook in fast mode, offline
# For instructors: make assignments (student versions), make grade SUBMISSIONS=dir (grades.csv, feedback pages).
# make test-jax: the Keras-ops unit tests again under the JAX backend (installs JAX for CPU beside .venv).

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
NB     ?=
FAST   ?=
SEED   ?=
SUBMISSIONS ?=
JAX_SITE  := $(VENV)/jax
JAX_STAMP := $(JAX_SITE)/.installed
# pytest-xdist: two workers on a 2-core laptop; worksteal evens out the long notebook runs
WORKERS ?= 2
# ... and TensorFlow computes each op on one thread in the tests and the kernels they start: two notebooks at once
# then share the two cores without oversubscribing them (a pair of fast runs took 38 s instead of 43 s)
TEST_THREADS ?= 1

.PHONY: setup run results test test-jax test-compat test-browser site lab bench assignments grade clean help

help:
	@echo "make run [NB=01]   execute the notebooks in full mode -> build/REPORT.md (FAST=1: fast mode, SEED=1: another seed)"
	@echo "make results       copy make run's runs into results/ and rewrite README's results and run times"
	@echo "make test          unit, property and parity tests + every notebook in fast mode"
	@echo "make lab           JupyterLab on the course"
	@echo "make site          the course website from the executed notebooks -> build/site/index.html"
	@echo "make test-browser  notebooks 15 and 14 in JupyterLab in headless Chromium: real clicks on the widgets; the website's links"
	@echo "make bench         speed and parity benchmarks against the references -> build/BENCH.md"
	@echo "make assignments   student versions of the exercise notebooks -> build/assignments/"
	@echo "make grade SUBMISSIONS=dir   run every submitted notebook: points per student and check -> build/grades.csv, build/feedback/"
	@echo "make test-jax      the keras.ops unit tests under KERAS_BACKEND=jax (installs JAX for CPU)"
	@echo "make test-compat   maintainers: unit tests + 3 notebooks on Python 3.11-3.13 and the newest releases -> build/compat/COMPAT.md"
	@echo "make clean         remove build outputs and caches (keeps .venv and data/)"

$(STAMP): requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

setup: $(STAMP)

run: setup
	$(BIN)/python tools/run_notebooks.py $(if $(NB),--only $(NB)) $(if $(FAST),--fast) $(if $(SEED),--param SEED=$(SEED))

# The README's results table comes only from recorded runs: build/runs.json -> results/runs.json -> README.md
results: setup
	$(BIN)/python tools/results.py

# Offline: pytest and every kernel it starts run in tools/offline.py's sandbox (loopback only); -p no:socket
# keeps pytest-socket's plugin from lifting the sandbox's socket guard after each test.
# tests/jax_backend/ needs Keras on JAX: make test-jax runs it.
test: setup
	CVLIB_FAST=1 TF_CPP_MIN_LOG_LEVEL=2 TF_NUM_INTRAOP_THREADS=$(TEST_THREADS) $(BIN)/python tools/offline.py \
		$(BIN)/python -m pytest -p no:socket -n $(WORKERS) --dist worksteal --durations=15 --ignore=tests/jax_backend tests

# JAX goes into its own folder beside the TensorFlow install (pip --target), on the same NumPy, SciPy and
# Keras: only jax and jaxlib are added, and only the test-jax run puts them on its path.
$(JAX_STAMP): tools/requirements-jax.txt $(STAMP)
	rm -rf $(JAX_SITE)
	$(BIN)/python -m pip install --quiet --no-deps --target $(JAX_SITE) -r tools/requirements-jax.txt
	@touch $@

test-jax: $(JAX_STAMP)
	$(BIN)/python tools/jax_tests.py

# For maintainers (CI runs Python 3.11 only): one environment per Python 3.11 / 3.12 / 3.13 found, with the
# pinned requirements, and one on 3.11 with the newest releases, under build/compat/; each is reused while its
# requirements are unchanged. Unit tests and notebooks 01, 13, 08 (fast) run offline in each.
test-compat:
	$(PYTHON) tools/compat.py

# Jupyter refuses to run as root unless told; containers often run as root. Only that check is lifted:
# the server still listens on localhost only and asks for its random token.
lab: setup
	$(BIN)/jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root) notebooks

# The course website (Sphinx, myst-nb, Jupyter Book's theme) from make run's executed notebooks or, for those it
# has not run, make test's fast runs -> build/site/index.html
site: setup
	$(BIN)/python tools/website.py

# JupyterLab from .venv on a free loopback port, driven by Playwright through Debian's Chromium (installed with
# apt-get when missing): clicks on notebook 15's widget and moves notebook 14's slider -> build/screenshots/,
# build/browser.json; then follows every link of the course website (make site). Fast mode; nothing but loopback
# traffic.
test-browser: setup site
	CVLIB_FAST=1 TF_CPP_MIN_LOG_LEVEL=2 $(BIN)/python tools/browser_test.py

bench: setup
	@mkdir -p build
	TF_CPP_MIN_LOG_LEVEL=2 $(BIN)/python benchmarks/run.py > build/BENCH.md
	@cat build/BENCH.md

assignments: setup
	$(BIN)/python tools/assignments.py --out build/assignments

grade: setup
	@test -n "$(SUBMISSIONS)" || { echo "usage: make grade SUBMISSIONS=dir  (dir/STUDENT/NAME.ipynb)" >&2; exit 2; }
	TF_CPP_MIN_LOG_LEVEL=2 $(BIN)/python tools/grade.py "$(SUBMISSIONS)" --out build/grades.csv

clean:
	rm -rf build .pytest_cache .ruff_cache .hypothesis
	find . -name __pycache__ -not -path "./$(VENV)/*" -prune -exec rm -rf {} +
