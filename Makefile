# The two set-up commands of the README: `make run` (default study) and `make test`.
# Both create .venv on first use; TF=gpu installs the CUDA build of TensorFlow instead.
PYTHON ?= python3
VENV ?= .venv
TF ?= cpu
CORES ?= 4

STAMP := $(VENV)/.installed-$(TF)

.PHONY: run test lint mutate gpu-check clean

run: $(STAMP)
	$(VENV)/bin/snakemake --cores $(CORES) --resources gpu=1

test: $(STAMP)
	$(VENV)/bin/pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check . && \
	$(VENV)/bin/snakefmt --check Snakefile workflow/rules && $(VENV)/bin/snakemake --lint

# Every GPU path once, on a machine with an NVIDIA GPU (bench/gpu_check.py; at most 10 min):
# the gpu tests, the input pipeline at 224x224, a CIFAR-sized study with mixed precision
# and XLA, 4 runs packed on the GPU against 4 in turn. It looks for the GPU before it
# installs the CUDA build of TensorFlow into $(GPU_VENV); figures go to
# docs/benchmarks.md, the log to results/gpu-check/.
GPU_VENV ?= .venv-gpu
gpu-check:
	@nvidia-smi -L 2>/dev/null | grep -q '^GPU ' || { echo "gpu-check: no NVIDIA GPU here \
	(nvidia-smi lists none); run it on a machine with one." >&2; exit 2; }
	$(MAKE) --no-print-directory VENV=$(GPU_VENV) TF=gpu $(GPU_VENV)/.installed-gpu
	$(GPU_VENV)/bin/python bench/gpu_check.py

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
