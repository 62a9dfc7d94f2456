# gradbounds: the README's two commands are `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip

.PHONY: demo test lint format bench paper paper-quick figures clean help

help:
	@echo "make demo    create $(VENV), install gradbounds, run 'gradbounds check' on the seed network"
	@echo "make test    install the test extras, run ruff and the whole test suite (notebooks included)"
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
	$(PIP) install -q -e ".[test,train,figures]"
	@touch $@ $(VENV)/.core

demo: $(VENV)/.core
	$(BIN)/gradbounds check --widths 784,30,30,30,30,10 --activation sigmoid --cost quadratic --init nielsen
	$(BIN)/gradbounds chain --depth 8 --exploding

test: $(VENV)/.all
	$(BIN)/ruff check gradbounds tests
	$(BIN)/python -m pytest -q

lint: $(VENV)/.all
	$(BIN)/ruff check gradbounds tests
	$(BIN)/ruff format --check gradbounds tests

format: $(VENV)/.all
	$(BIN)/ruff format gradbounds tests
	$(BIN)/ruff check --fix gradbounds tests

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
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis build dist *.egg-info
