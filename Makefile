# The two set-up commands of the README: `make run` (default study) and `make test`.
# Both create .venv on first use; TF=gpu installs the CUDA build of TensorFlow instead.
PYTHON ?= python3
VENV ?= .venv
TF ?= cpu
CORES ?= 4

STAMP := $(VENV)/.installed-$(TF)

.PHONY: run test lint mutate clean

run: $(STAMP)
	$(VENV)/bin/snakemake --cores $(CORES) --resources gpu=1

test: $(STAMP)
	$(VENV)/bin/pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check . && \
	$(VENV)/bin/snakefmt --check Snakefile workflow/rules && $(VENV)/bin/snakemake --lint

# Mutation testing ([tool.mutmut] in pyproject.toml; not in CI) of the modules that need no
# TensorFlow, or of some: make mutate MUTANTS='ablate.results.checks*'. It runs in a staged
# copy ($(MUTATE_DIR)); survivors: cd $(MUTATE_DIR) && mutmut results / mutmut show NAME.
MUTATE_DIR ?= /tmp/ablate-mutate
mutate: $(STAMP)
	rm -rf $(MUTATE_DIR) && mkdir -p $(MUTATE_DIR)
	cp -r workflow/scripts/ablate workflow/schemas tests config.yaml pyproject.toml $(MUTATE_DIR)/
	mkdir -p $(MUTATE_DIR)/bench && cp -r bench/data $(MUTATE_DIR)/bench/
	cd $(MUTATE_DIR) && $(abspath $(VENV))/bin/mutmut run $(MUTANTS); \
	$(abspath $(VENV))/bin/mutmut results

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e ".[$(TF),test]"
	touch $@

clean:
	rm -rf results .snakemake
