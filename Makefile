# The two set-up commands (README): `make demo` and `make test` work from a fresh clone.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-train-qat-video-serve-lite-torch-dev-mypy-docs
# PyTorch's CPU build: PyPI's torch for x86-64 is a CUDA build of several GB; on aarch64 it is the CPU one.
TORCH_CPU_INDEX ?= $(if $(filter x86_64,$(shell uname -m)),--retries 0 --extra-index-url https://download.pytorch.org/whl/cpu,)

.PHONY: install install-runtime test test-runtime test-arm pi-check demo docs dist clean

# Full development environment: runtime + training/export + test tools.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "torch==2.13.0" $(TORCH_CPU_INDEX)
	$(PY) -c "import sys, torch; sys.exit('make install: torch ' + torch.__version__ + ' is a CUDA build (see docs/guides/pytorch.md)' if torch.version.cuda else 0)"
	$(PY) -m pip install --quiet -e ".[train,qat,video,serve,lite,torch,dev,docs]"
	touch $(STAMP)

install: $(STAMP)

# What a device needs: the TF-free runtime only.
install-runtime:
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet .

# Lint, format and type checks first (ruff and mypy, configured in pyproject.toml), then the suite;
# the whole PyTorch conformance matrix (-m matrix, tests/test_torch_matrix.py) takes an hour or more: run it alone.
test: $(STAMP)
	$(PY) -m ruff check src tests experiments scripts examples
	$(PY) -m ruff format --check src tests experiments scripts examples
	$(PY) -m mypy src/sportsedge
	$(PY) -m pytest -q -m "not arm and not matrix"

# The suite as a device runs it: a venv with the runtime and serve extra only (no TensorFlow), from
# the committed model fixtures; the tests that need TensorFlow skip with their reason.
RT_VENV := .venv-runtime
test-runtime:
	test -x $(RT_VENV)/bin/python || $(PYTHON) -m venv $(RT_VENV)
	$(RT_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(RT_VENV)/bin/python -m pip install --quiet ".[serve]" pytest pytest-timeout hypothesis httpx
	! $(RT_VENV)/bin/python -c "import tensorflow" 2>/dev/null
	$(RT_VENV)/bin/python -m pytest -q -m "not arm" -p no:cacheprovider tests

# The runtime on emulated 64-bit ARM (Raspberry Pi 4 and 5 CPU models) in both userlands Raspberry
# Pi OS ships: Debian 12 bookworm (Python 3.11) and Debian 13 trixie (Python 3.13). Builds each
# sandbox once (root: apt-get, debootstrap, binfmt), then the `arm` tests on both.
# SPORTSEDGE_REQUIRE_ARM=1 (CI) turns a missing sandbox into a failure instead of a skip.
test-arm: $(STAMP)
	bash scripts/arm64-sandbox.sh
	ARM_SUITE=trixie bash scripts/arm64-sandbox.sh
	$(PY) -m pytest -q -m arm

# The whole path as on a Raspberry Pi, emulated: a fresh arm64 chroot, a venv, pip install . and
# verify / predict / bench on an exported MobileNetV2 int8 (root; several minutes; not in CI).
pi-check: $(STAMP)
	bash scripts/pi-check.sh

# The whole pipeline offline on a generated dataset (see README); re-running resumes. Its models'
# weights come with pip (the lite extra), so it is the same demo with or without ../shared.
demo: $(STAMP)
	$(PY) -m sportsedge demo --out demo-out

# The docs site into site/ (open site/index.html; offline). make test builds it too (tests/test_docs.py).
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict

# The release files into dist/: the sdist and the wheel, checked by twine (docs/development.md,
# "Release checklist"; tests/test_release.py installs the wheel into a fresh venv and runs it).
dist: $(STAMP)
	rm -rf dist
	$(PY) -m build --no-isolation --sdist --wheel --outdir dist .
	$(PY) -m twine check --strict dist/*

clean:
	rm -rf $(VENV) $(RT_VENV) build dist site src/*.egg-info .pytest_cache .mypy_cache
