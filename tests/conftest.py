"""Shared helpers: run the real snakemake on study configs written to temporary folders."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from ablate.plan import parse_dry_run

REPO = Path(__file__).resolve().parents[1]


def default_config() -> dict[str, Any]:
    return yaml.safe_load((REPO / "config.yaml").read_text())


def tiny_config(**overrides: Any) -> dict[str, Any]:
    """The default study shrunk to seconds: 12 images per class, 16x16, two epochs, one
    thread per train job."""
    config = default_config()
    config["study"] = "tiny"
    # shares, not the default's counts per class (which 12 images per class cannot give)
    split = {"train": 0.7, "validation": 0.15, "test": 0.15, "seed": 2024}
    config["dataset"].update(image_size=[16, 16], max_per_class=12, split=split)
    config["base"]["epochs"] = 2
    config["base"]["model"].update(filters=[4, 8], dense_units=8)
    levels = config["factors"]["augmentation"]
    config["factors"] = {
        "augmentation": {level: copy.deepcopy(levels[level]) for level in ("none", "geometric")},
        "regularization": {"none": {}, "dropout": {"model": {"dropout": 0.3}}},
    }
    config["design"] = "one-at-a-time"
    config["baseline"] = {}
    config["seeds"] = [1, 2]
    # One thread per train job: such tiny models gain nothing from a second. (Train jobs
    # still run one at a time under `--resources gpu=1`: runs_per_gpu is 1.)
    config["resources"] = {"cpus": 1}
    config.update(overrides)
    return config


def adaptive_config(**overrides: Any) -> dict[str, Any]:
    """A tiny adaptive study (seeds 2, then 1 more while undecided) whose rounds go the
    same way on any machine: the baseline; a level that cannot learn, worse by a margin
    that any CPU reaches (about 0.8 in accuracy, its accuracy fixed by its seeded initial
    weights); and a level whose every run diverges (its loss NaN in epoch 1 for certain),
    so that no seed is ever shared with the baseline and it stays undecided to the last
    round. One thread per train job, as under SLURM (tests/test_slurm.py compares the two).
    """
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
            # Keys in sorted order: describe's params keep a level patch's key order as
            # written, so test_adaptive's sort_keys reorder would rerun it (noted defect).
            "runaway": {"optimizer": {"learning_rate": float("inf"), "name": "sgd"}},
        }
    }
    config["resources"] = {"cpus": 1, "mem_mb": 1000, "runtime": 10, "runtime_growth": 2}
    # No futility stop (tests/test_sequential.py tests that rule).
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


def holding(mark: Path, after_epoch: int) -> dict[str, str]:
    """The environment in which the first train job to finish ``after_epoch`` writes
    ``mark`` and waits there to be killed (tests/hooks/sitecustomize.py)."""
    hooks = str(REPO / "tests" / "hooks")
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([hooks, os.environ.get("PYTHONPATH", "")]),
        "ABLATE_TEST_HOLD_AFTER_EPOCH": str(after_epoch),
        "ABLATE_TEST_HOLD_MARK": str(mark),
    }


def wait_for_mark(mark: Path, process: subprocess.Popen, timeout: float = 600) -> None:
    """Until a held train job has written ``mark``; fails if ``process`` ends first (the
    timeout bounds a hang; it is not a condition of any test)."""
    deadline = time.monotonic() + timeout
    while not mark.exists():
        if process.poll() is not None:
            output = process.stdout.read() if process.stdout else ""
            pytest.fail(f"snakemake ended before a train job was held:\n{output[-5000:]}")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"no train job was held within {timeout} s")
        time.sleep(0.2)


def planned_jobs(result: subprocess.CompletedProcess) -> list[tuple[str, dict[str, str]]]:
    """(rule, wildcards, threads and resources) of every job in a dry run's output."""
    return parse_dry_run(result.stdout + result.stderr)


@pytest.fixture(scope="session")
def adaptive_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny adaptive study run to its end on this machine (tests/test_adaptive.py reads
    it; tests/test_slurm.py compares the same study submitted to SLURM with it)."""
    return run_study(tmp_path_factory.mktemp("adaptive"), adaptive_config())


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


# pytest-xdist (`-n auto`, pyproject.toml) sends each group of tests to one worker: by
# default a module, so that its module fixtures (a study's run) are made once; modules
# that read one session fixture share a group, so that it is made once too (and the SLURM
# test cluster is started by one worker only).
SHARED_GROUPS = {"test_adaptive": "adaptive", "test_slurm": "adaptive"}
# The longest groups start first, so that the last to finish is a short one (from
# pytest's --durations; docs/benchmarks.md, "Test suite time"). The rest keep their order.
LONGEST_FIRST = ["test_default_study", "adaptive", "test_studies", "test_workflow",
                 "test_mlflow", "test_gpu_check", "test_resume", "test_plan",
                 "test_sources_workflow"]  # fmt: skip


def test_group(path: str | Path) -> str:
    module = Path(path).stem
    return SHARED_GROUPS.get(module, module)


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """xdist's scope scheduling with our groups as the scopes (its own `loadgroup` marks
    rename test ids, which pytest 9.2 no longer lets a plugin do)."""
    from xdist.scheduler import LoadScopeScheduling

    class GroupScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return test_group(nodeid.split("::", 1)[0])

    return GroupScheduling(config, log)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The longest test groups first. `gpu` tests run only where TensorFlow has a GPU;
    `no_gpu` tests (which assume TensorFlow sees none) only where it has none."""
    rank = {group: position for position, group in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(test_group(item.path), len(rank)))
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
