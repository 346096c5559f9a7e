# The two set-up commands of the README: `make run` (default study) and `make test`.
# Both create .venv on first use; TF=gpu installs the CUDA build of TensorFlow instead.
PYTHON ?= python3
VENV ?= .venv
TF ?= cpu
CORES ?= 4

STAMP := $(VENV)/.installed-$(TF)

.PHONY: run test lint clean

run: $(STAMP)
	$(VENV)/bin/snakemake --cores $(CORES) --resources gpu=1

test: $(STAMP)
	$(VENV)/bin/pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check . && \
	$(VENV)/bin/snakefmt --check Snakefile workflow/rules && $(VENV)/bin/snakemake --lint

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e ".[$(TF),test]"
	touch $@

clean:
	rm -rf results .snakemake
