"""Shared helpers: run the real snakemake on study configs written to temporary folders."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from ablate.plan import parse_dry_run

REPO = Path(__file__).resolve().parents[1]


def default_config() -> dict[str, Any]:
    return yaml.safe_load((REPO / "config.yaml").read_text())


def tiny_config(**overrides: Any) -> dict[str, Any]:
    """The default study shrunk to seconds: 12 images per class, 16x16, two epochs."""
    config = default_config()
    config["study"] = "tiny"
    config["dataset"].update(image_size=[16, 16], max_per_class=12)
    config["base"]["epochs"] = 2
    config["base"]["model"].update(filters=[4, 8], dense_units=8)
    config["factors"] = {
        "augmentation": copy.deepcopy(config["factors"]["augmentation"]),
        "regularization": {"none": {}, "dropout": {"model": {"dropout": 0.3}}},
    }
    config["design"] = "one-at-a-time"
    config["baseline"] = {}
    config["seeds"] = [1, 2]
    config.update(overrides)
    return config


def adaptive_config(**overrides: Any) -> dict[str, Any]:
    """A tiny adaptive study (seeds 2, then 1 more while undecided): the baseline, a level
    that cannot learn (clearly worse) and one that only nudges training randomness."""
    config = tiny_config(study="adaptive", design="one-at-a-time",
                         baseline={"variant": "baseline"},
                         seeds={"min": 2, "max": 3, "step": 1})  # fmt: skip
    config["dataset"].update(max_per_class=60)
    config["base"]["epochs"] = 8
    config["base"]["model"].update(filters=[8, 16], dense_units=32)
    config["base"]["optimizer"]["learning_rate"] = 0.003
    config["factors"] = {
        "variant": {
            "baseline": {},
            "frozen": {"optimizer": {"learning_rate": 1.0e-7}},
            "nudged": {"model": {"dropout": 0.01}},
        }
    }
    # No futility stop: the look-alike trains through every round (futility would stop it
    # after the first; tests/test_sequential.py tests that rule).
    config["checks"] = {"futility": 0.0}
    config.update(overrides)
    return config


def write_config(workdir: Path, config: dict[str, Any]) -> Path:
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def snakemake_command(workdir: Path, *args: str) -> list[str]:
    """snakemake on the project's Snakefile with ``workdir/config.yaml``."""
    return [
        sys.executable, "-m", "snakemake",
        "--snakefile", str(REPO / "Snakefile"),
        "--directory", str(workdir),
        "--configfile", str(workdir / "config.yaml"),
        *args,
    ]  # fmt: skip


def snakemake(workdir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run snakemake to the end; fail the test with its output unless it succeeds."""
    command = snakemake_command(workdir, *args)
    result = subprocess.run(command, capture_output=True, text=True, timeout=1200)
    if check and result.returncode != 0:
        pytest.fail(
            f"snakemake {' '.join(args)} failed ({result.returncode}):\n"
            f"{result.stdout[-5000:]}\n{result.stderr[-5000:]}"
        )
    return result


def run_study(workdir: Path, config: dict[str, Any]) -> Path:
    """Write ``config`` into ``workdir`` and run its study to the end (2 cores, one GPU
    slot), failing the test with the failed jobs' logs if it does not finish."""
    write_config(workdir, config)
    snakemake(workdir, "--cores", "2", "--resources", "gpu=1", "--show-failed-logs")
    return workdir


def planned_jobs(result: subprocess.CompletedProcess) -> list[tuple[str, dict[str, str]]]:
    """(rule, wildcards, threads and resources) of every job in a dry run's output."""
    return parse_dry_run(result.stdout + result.stderr)


def gpu_count() -> int:
    """GPUs that TensorFlow can use here, found without importing TensorFlow: NVIDIA GPUs
    that nvidia-smi lists (limited by CUDA_VISIBLE_DEVICES where set), and 0 where the
    installed TensorFlow is the CPU-only build (tensorflow-cpu, no `tensorflow` package)."""
    from importlib import metadata

    from ablate.train.gpu_slots import gpu_indices

    try:
        metadata.version("tensorflow")
    except metadata.PackageNotFoundError:
        return 0
    indices = gpu_indices()
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        indices = [index for index in visible.split(",") if index.strip() in indices]
    return len(indices)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`gpu` tests run only where TensorFlow has a GPU; `no_gpu` tests (which assume
    TensorFlow sees none) only where it has none."""
    gpu_tests = [item for item in items if item.get_closest_marker("gpu")]
    cpu_tests = [item for item in items if item.get_closest_marker("no_gpu")]
    if not gpu_tests and not cpu_tests:
        return
    gpus = gpu_count()
    for item in gpu_tests if gpus == 0 else cpu_tests:
        reason = "needs a GPU" if gpus == 0 else f"assumes no GPU; {gpus} here"
        item.add_marker(pytest.mark.skip(reason=reason))


def tiny_decoded_split(root: Path, dataset: dict[str, Any]) -> Path:
    """15 digits per class split 70/15/15 (seed 1) into ``root`` and decoded into
    ``<split>-images.npy`` / ``<split>-labels.npy`` there, for in-process train_cell tests."""
    from ablate.data.arrays import decode_split
    from ablate.data.sources import fetch
    from ablate.data.split import SPLITS, split_dataset

    fetch("builtin:digits", root / "raw")
    split = {"by": "fractions", "train": 0.7, "validation": 0.15, "test": 0.15, "seed": 1,
             "max_per_class": 15}  # fmt: skip
    split_dataset(root / "raw", root / "split", root / "manifest.csv", split)
    for name in SPLITS:
        decode_split(
            split_dir=root / "split", manifest=root / "manifest.csv", split=name,
            images_path=root / f"{name}-images.npy", labels_path=root / f"{name}-labels.npy",
            **dataset,
        )  # fmt: skip
    return root
