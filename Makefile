# microtorch: `make mnist` trains the MNIST MLP; `make test` runs every check. Both set up .venv.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
OUT ?= out

.PHONY: venv test sync nbtest pytest mnist docs bench readme clean

venv: $(VENV)/.installed
$(VENV)/.installed: settings.ini setup.py
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

## every check: package in sync with notebooks, clean notebooks, README, notebook tests, pytest
test: venv sync nbtest pytest

sync: venv
	PATH=$(CURDIR)/$(BIN):$$PATH $(PY) tools/check_sync.py

nbtest: venv
	$(BIN)/nbdev_test --n_workers 2 --do_print

pytest: venv
	$(PY) -m pytest -q tests

## the main job: fetch MNIST, train the MLP, write metrics.json, loss.png and model.npz to $(OUT)/
mnist: venv
	$(BIN)/microtorch-mnist --epochs 5 --out $(OUT)

## regenerate README.md from nbs/index.ipynb (no Quarto needed)
readme: venv
	$(PY) tools/make_readme.py

clean:
	rm -rf _docs _proc build dist *.egg-info .pytest_cache
