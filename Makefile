# gradbounds: the README's two commands are `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip
PYSRC  := gradbounds tests bench notebooks paper

.PHONY: demo test test-fast lint format precommit typecheck docs bench paper paper-quick figures clean help

help:
	@echo "make demo    create $(VENV), install gradbounds, run 'gradbounds check' on the seed network"
	@echo "make test    install the test extras (adapters: torch, equinox, flax, safetensors), run ruff and the whole suite"
	@echo "             in TEST_WORKERS processes (default 2; make test TEST_WORKERS=4)"
	@echo "make test-fast  the suite without the tests marked slow, Hypothesis profile dev (a few minutes)"
	@echo "make lint    ruff check and ruff format --check; make precommit runs the pre-commit hooks on every file"
	@echo "make typecheck  pyright (basedpyright, basic mode) on the package"
	@echo "make docs    the API documentation (mkdocs + mkdocstrings, strict) into out/site"
	@echo "make bench   benchmarks against baselines (ratios measured in one run)"
	@echo "make paper   regenerate figures and numbers, build paper/paper.pdf with latexmk"
	@echo "make figures regenerate every figure into out/figures"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

$(VENV)/.core: pyproject.toml | $(BIN)/python
	$(PIP) install -q -e .
	@touch $@

$(VENV)/.all: pyproject.toml | $(BIN)/python
	$(PIP) install -q -e ".[test,train,figures,export,adapters]"
	@touch $@ $(VENV)/.core

demo: $(VENV)/.core
	$(BIN)/gradbounds check --widths 784,30,30,30,30,10 --activation sigmoid --cost quadratic --init nielsen
	$(BIN)/gradbounds chain --depth 8 --exploding

# the suite runs in TEST_WORKERS processes (pytest-xdist), a test file to a process (its compiled programs
# and module fixtures are shared by its tests): it is bound by XLA compiles, which use one core each.
# The adapter tests (torch, equinox, flax) run in their own process: with torch loaded, XLA's compiler
# segfaulted once in a full run (backend_compile_and_load); JAX alone never has
TEST_WORKERS ?= 2
XDIST := -n $(TEST_WORKERS) --dist loadfile
test: $(VENV)/.all
	$(BIN)/ruff check $(PYSRC)
	$(BIN)/python -m pytest -q $(XDIST) --ignore=tests/adapters
	$(BIN)/python -m pytest -q tests/adapters

# the tests not marked slow (notebooks, property sweeps and training runs are), with fewer Hypothesis examples
test-fast: $(VENV)/.all
	HYPOTHESIS_PROFILE=$${HYPOTHESIS_PROFILE:-dev} $(BIN)/python -m pytest -q $(XDIST) -m "not slow"

lint: $(VENV)/.all
	$(BIN)/ruff check $(PYSRC)
	$(BIN)/ruff format --check $(PYSRC)

format: $(VENV)/.all
	$(BIN)/ruff format $(PYSRC)
	$(BIN)/ruff check --fix $(PYSRC)

precommit: $(VENV)/.all
	$(BIN)/pre-commit run --all-files

typecheck: $(VENV)/.all
	$(BIN)/basedpyright

$(VENV)/.docs: pyproject.toml | $(VENV)/.all
	$(PIP) install -q -e ".[docs]"
	@touch $@

docs: $(VENV)/.docs
	$(BIN)/mkdocs build --strict -d out/site

bench: $(VENV)/.all
	$(PIP) install -q -e ".[bench]"
	$(BIN)/python -m bench.run

paper: $(VENV)/.all
	$(BIN)/python paper/build.py

paper-quick: $(VENV)/.all
	$(BIN)/python paper/build.py --quick

figures: $(VENV)/.all
	$(BIN)/gradbounds figures --out out/figures

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis build dist *.egg-info out/site
