# The two set-up commands (README): `make demo` and `make test` work from a fresh clone.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-train-dev

.PHONY: install install-runtime test demo clean

# Full development environment: runtime + training/export + test tools.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[train,dev]"
	touch $(STAMP)

install: $(STAMP)

# What a device needs: the TF-free runtime only.
install-runtime:
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet .

test: $(STAMP)
	$(PY) -m pytest -q

demo: $(STAMP)
	@echo "make demo: the end-to-end demo arrives with the pipeline (issue 6); not there yet." >&2
	@echo "Until then: make test, then see README 'Predict' for running an exported model." >&2
	@exit 2

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache
