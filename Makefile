# cnnkit: `make demo` runs the main job on a built-in default, `make test` runs the tests.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.cnnkit-installed

.PHONY: install test test-fast lint demo bench clean

# torch is pinned first: an unpinned torch here would pull gigabytes of CUDA packages.
$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[test]'
	@-[ -d /usr/share/datasets/fashion-mnist ] || [ "$$(id -u)" != 0 ] || \
		(apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist) >/dev/null 2>&1 || \
		echo "note: could not install Debian's dataset-fashion-mnist; cnnkit will download Fashion-MNIST instead"
	touch $(STAMP)

install: $(STAMP)

# The docstring examples run in a second pytest process: they register example layers that the tests must not see.
test: $(STAMP)
	KERAS_BACKEND=torch $(PY) -m pytest -n 2 -q
	KERAS_BACKEND=torch $(PY) -m pytest -q --doctest-modules src/cnnkit

test-fast: $(STAMP)
	KERAS_BACKEND=torch $(PY) -m pytest -n 2 -q -m "not slow"
	KERAS_BACKEND=torch $(PY) -m pytest -q --doctest-modules src/cnnkit

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench examples
	$(VENV)/bin/ruff format --check src tests bench examples

demo: $(STAMP)
	$(VENV)/bin/cnnkit demo

bench: $(STAMP)
	$(PY) bench/train_throughput.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache
