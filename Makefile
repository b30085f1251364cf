# microtorch: `make mnist` trains the MNIST MLP, `make test` runs every check, `make lab` opens the
# chapters in JupyterLab. Each target sets up the virtual environment it needs on first use:
#   .venv-run  the package + [plot] (matplotlib, tqdm): mnist, wheel; + [notebooks] (JupyterLab): lab
#   .venv      the package + [dev] (nbdev, pytest, torch, Sphinx, playwright, ...): test, docs, serve, readme, bench
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
RUN_VENV ?= .venv-run
# `make lab LAB_VENV=.venv` runs JupyterLab with the dev set instead (torch for the chapters' PyTorch checks)
LAB_VENV ?= $(RUN_VENV)
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
RUN := $(RUN_VENV)/bin
OUT ?= out
PORT ?= 8000
# One BLAS thread: these matrices are small, and with several processes on few cores
# OpenBLAS's spinning threads slow training down many times over (the benchmark sets its own).
export OPENBLAS_NUM_THREADS ?= 1
export OMP_NUM_THREADS ?= 1

.PHONY: venv run-venv test sync nbtest pytest mnist lab wheel docs serve browser bench readme clean

## the dev set: the package in editable mode + [dev]
venv: $(VENV)/.installed
$(VENV)/.installed: settings.ini setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

## what the main job needs and nothing else: the package (editable) + [plot]; seconds, not minutes
run-venv: $(RUN_VENV)/.installed
$(RUN_VENV)/.installed: settings.ini setup.py
	test -x $(RUN)/python || $(PYTHON) -m venv $(RUN_VENV)
	$(RUN)/python -m pip install --quiet -e ".[plot]"
	touch $@

$(LAB_VENV)/.notebooks: settings.ini setup.py
	test -x $(LAB_VENV)/bin/python || $(PYTHON) -m venv $(LAB_VENV)
	$(LAB_VENV)/bin/python -m pip install --quiet -e ".[notebooks]"
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
mnist: run-venv
	$(RUN)/microtorch-mnist --epochs 5 --out $(OUT)

## the chapters in JupyterLab, started in nbs/ (LAB_ARGS="--no-browser --port 8888" and the like are passed on)
lab: $(LAB_VENV)/.notebooks
	cd nbs && $(abspath $(LAB_VENV))/bin/jupyter lab $$([ "$$(id -u)" = 0 ] && echo --allow-root) $(LAB_ARGS)

## a wheel of the package in dist/ (`pip install dist/microtorch-*.whl`); PyPI's `microtorch` is another project
wheel:
	test -x $(RUN)/python || $(PYTHON) -m venv $(RUN_VENV)
	rm -rf build/lib build/bdist.* dist/microtorch-*.whl
	$(RUN)/python -m pip wheel --quiet --no-deps --wheel-dir dist .
	@ls dist/microtorch-*.whl

## benchmarks, not tests: microtorch vs PyTorch vs a numpy floor on the MNIST MLP (bench/README.md);
## prints the tables, writes bench/results/ and updates nbs/benchmarks.json + the docs page nbs/23_benchmarks.ipynb
bench: venv
	$(PY) -m bench.run --publish $(BENCH_ARGS)

## the docs site without Quarto (Sphinx + myst-nb + furo, offline MathJax): _docs/ from nbs/ and their stored outputs
docs: venv
	$(PY) tools/build_docs.py

## the docs site on http://127.0.0.1:$(PORT), rebuilt whenever something in nbs/ or docs/ changes (nbdev_preview without Quarto)
serve: venv
	$(PY) tools/serve_docs.py --port $(PORT)

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
