# microtorch: `make mnist` trains the MNIST MLP; `make test` runs every check. Both set up .venv.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
OUT ?= out
# One BLAS thread: these matrices are small, and with several processes on few cores
# OpenBLAS's spinning threads slow training down many times over (the benchmark sets its own).
export OPENBLAS_NUM_THREADS ?= 1
export OMP_NUM_THREADS ?= 1

.PHONY: venv test sync nbtest pytest mnist docs browser bench readme clean

venv: $(VENV)/.installed
$(VENV)/.installed: settings.ini setup.py
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

## every check: package in sync with notebooks, clean notebooks, README, notebook tests, pytest, docs site in Chromium
test: venv sync nbtest pytest browser

sync: venv
	PATH=$(CURDIR)/$(BIN):$$PATH $(PY) tools/check_sync.py

nbtest: venv
	$(BIN)/nbdev_test --n_workers 2 --do_print

pytest: venv
	$(PY) -m pytest -q tests --ignore=tests/test_docs_browser.py

## the main job: fetch MNIST, train the MLP, write metrics.json, loss.png and model.npz to $(OUT)/
mnist: venv
	$(BIN)/microtorch-mnist --epochs 5 --out $(OUT)

## benchmarks, not tests: microtorch vs PyTorch vs a numpy floor on the MNIST MLP (bench/README.md);
## prints the tables, writes bench/results/ and updates nbs/benchmarks.json + the docs page nbs/12_benchmarks.ipynb
bench: venv
	$(PY) -m bench.run --publish $(BENCH_ARGS)

## the docs site without Quarto (Sphinx + myst-nb + furo, offline MathJax): _docs/ from nbs/ and their stored outputs
docs: venv
	$(PY) tools/build_docs.py

## the docs site in headless Chromium: Debian's chromium (installed here when root), never a downloaded browser
browser: docs
	@test -x /usr/bin/chromium || [ "$$(id -u)" != 0 ] || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; } \
	  || echo "could not install chromium: the browser tests will skip"
	$(PY) -m pytest -q -rs tests/test_docs_browser.py

## regenerate README.md from nbs/index.ipynb (no Quarto needed)
readme: venv
	$(PY) tools/make_readme.py

clean:
	rm -rf _docs _proc build dist *.egg-info .pytest_cache
