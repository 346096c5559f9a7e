"""`make gpu-check` (bench/gpu_check.py) on a machine without a GPU: it refuses in one line
before installing anything, and its CPU rehearsal runs every step it would run on a GPU."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from conftest import REPO

sys.path.insert(0, str(REPO / "bench"))
import gpu_check

from ablate.config import resolve_study

without_gpu = pytest.mark.skipif(
    bool(gpu_check.gpu_names()), reason="this machine has an NVIDIA GPU: make gpu-check runs"
)


@without_gpu
def test_make_gpu_check_refuses_without_a_gpu_before_installing_anything(tmp_path):
    venv = tmp_path / "venv"
    done = subprocess.run(
        ["make", "--no-print-directory", "-C", str(REPO), "gpu-check", f"GPU_VENV={venv}"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    refusal = [line for line in done.stderr.splitlines() if not line.startswith("make")]
    assert refusal == [
        "gpu-check: no NVIDIA GPU here (nvidia-smi lists none); run it on a machine with one."
    ]
    assert done.stdout == "" and not venv.exists()


@without_gpu
def test_the_gpu_check_script_refuses_in_one_line(tmp_path):
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "gpu_check.py"), "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stdout.splitlines() == [
        "gpu-check: no NVIDIA GPU here (nvidia-smi lists none); run it where one is."
    ]
    assert not (tmp_path / "out").exists()


def test_the_study_is_s5_on_two_cells_one_seed_with_mixed_precision_and_xla(tmp_path):
    config = gpu_check.study_config(tmp_path / "tfds", gpu_check.REAL)
    study = resolve_study(config, tmp_path)
    assert study.seeds == [1] and len(study.cells) == 2
    for cell in study.cells.values():
        settings = cell.settings
        assert (settings.precision, settings.jit_compile) == ("mixed_float16", True)
        assert settings.epochs == gpu_check.REAL.epochs
    assert config["dataset"]["source"] == "tfds:cifar10"
    assert config["dataset"]["tfds_data_dir"] == str(tmp_path / "tfds")


def test_pytest_counts_read_the_closing_line():
    output = "....\n3 passed, 2 skipped, 590 deselected in 12.3s\n"
    assert gpu_check.pytest_counts(output) == {"passed": 3, "skipped": 2, "deselected": 590}
    assert gpu_check.pytest_counts("1 failed, 4 passed in 1.0s") == {"failed": 1, "passed": 4}


def test_a_cpu_rehearsal_runs_every_step_and_writes_its_figures(tmp_path):
    """The steps at toy sizes: the gpu tests (skipped here), the throughput bench with
    both placements, the S5 study through the real snakemake, and its baseline's 2 seeds in
    turn and packed (on the CPU here); the figures go into the rehearsal's own
    benchmarks.md, and docs/benchmarks.md is left alone."""
    docs = (REPO / "docs" / "benchmarks.md").read_text()
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "gpu_check.py"), "--rehearse", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    log = (out / "gpu-check.log").read_text()
    assert done.returncode == 0, done.stdout + log[-5000:]
    steps = ("gpu tests:", "throughput:", "study:", "in turn:", "packed:")
    statuses = [
        line.rsplit(" (", 1)[0] for line in done.stdout.splitlines() if line.startswith(steps)
    ]
    assert statuses == [
        "gpu tests: passed (no gpu test ran)",
        "throughput: passed",
        "study: passed",
        "in turn: passed",
        "packed: passed",
    ]
    figures = (out / "benchmarks.md").read_text()
    assert "<!-- gpu_check:start -->" in figures and "<!-- model_throughput:start -->" in figures
    assert "augmentation in tf.data" in figures and "augmentation in the model" in figures
    study = [line for line in figures.splitlines() if "| mixed_float16 |" in line]
    assert len(study) == 2, figures  # one row per cell, each trained as the check asks
    for row in study:
        assert "| ok |" in row and "| mixed_float16 | True |" in row
    assert "| gpu tests | passed (no gpu test ran) |" in figures
    packed = r"\| packed \| passed \| \d+ \| runs 2, train s [\d.]+, throughput / in turn [\d.]+ \|"
    assert re.search(packed, figures), figures
    assert "skipped" in figures  # the gpu tests' counts
    assert "$ " in log and "snakemake" in log  # every command and its output
    assert (REPO / "docs" / "benchmarks.md").read_text() == docs
