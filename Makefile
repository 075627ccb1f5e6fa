# Two commands on a fresh machine with Python 3.10+: `make demo` and `make test`.
# Each creates the virtual environment on first use and installs what it needs.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast test-colab lint clean

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m unet demo

test: $(STAMP)
	TF_CPP_MIN_LOG_LEVEL=2 $(PY) -m pytest

# The edit loop: tests not marked slow, notebooks left out (under a minute on 2 cores).
test-fast: $(STAMP)
	TF_CPP_MIN_LOG_LEVEL=2 $(PY) -m pytest tests -m "not slow" -q

# The fast lane again on Colab's TensorFlow, Keras and numpy (.ci/colab-versions.txt), in a
# second environment.
COLAB_VENV ?= .venv-colab
COLAB_STAMP := $(COLAB_VENV)/.installed

$(COLAB_STAMP): requirements.txt pyproject.toml .ci/colab-versions.txt
	$(PYTHON) -m venv $(COLAB_VENV)
	$(COLAB_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(COLAB_VENV)/bin/python -m pip install --quiet -r requirements.txt -c .ci/colab-versions.txt
	$(COLAB_VENV)/bin/python -m pip install --quiet --no-deps -e .
	touch $(COLAB_STAMP)

test-colab: $(COLAB_STAMP)
	TF_CPP_MIN_LOG_LEVEL=2 $(COLAB_VENV)/bin/python -m pytest tests -m "not slow" -q

lint: $(STAMP)
	$(PY) -m pip install --quiet ruff
	$(PY) -m ruff check unet tests bench notebooks
	$(VENV)/bin/lint-imports --no-cache

clean:
	rm -rf $(VENV) $(COLAB_VENV) .pytest_cache
