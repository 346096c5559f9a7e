"""Start-up and exit of the train and evaluate jobs: the entry scripts run as Snakemake
runs them (a fresh process with a `snakemake` object), on a tiny real split."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, tiny_decoded_split

from ablate.config import check_settings
from ablate.train.runtime import BACKGROUND_NICENESS

DATASET = {"image_size": [16, 16], "color_mode": "grayscale"}
SETTINGS = {
    "model": {"name": "small_convnet", "filters": [4, 8], "dense_units": 16},
    "batch_size": 16,
    "epochs": 2,
}
SCRIPTS = REPO / "workflow" / "scripts"

# Runs an entry script with a stand-in of Snakemake's `snakemake` object, then reports the
# niceness of every thread of the process (TensorFlow's pools included), whether the
# objects alive at the end were frozen out of the final garbage collection, and which of
# the modules Keras imports only if they are there the job loaded.
RUNNER = """
import gc, json, os, runpy, sys, types

job = json.loads(sys.argv[2])
snakemake = types.SimpleNamespace(
    **{key: types.SimpleNamespace(**value) for key, value in job["named"].items()},
    log=job["log"], threads=job["threads"],
)
started = os.nice(0)
runpy.run_path(sys.argv[1], init_globals={"snakemake": snakemake}, run_name="__main__")
niceness = []
for task in os.listdir("/proc/self/task"):
    with open(f"/proc/self/task/{task}/stat") as stat:
        niceness.append(int(stat.read().rsplit(")", 1)[1].split()[16]))
loaded = [name for name in ("sklearn", "matplotlib") if name in sys.modules]
print(json.dumps({"started": started, "niceness": niceness, "frozen": gc.get_freeze_count(),
                  "loaded": loaded}))
"""


def run_python(code: str, *args: str, timeout: float = 300) -> str:
    """Run ``code`` in a fresh interpreter that imports ablate; its stdout (it must exit 0)."""
    environment = {**os.environ, "PYTHONPATH": str(SCRIPTS)}
    result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True,
                            text=True, env=environment, timeout=timeout)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def run_entry(script: str, job: dict[str, Any]) -> dict[str, Any]:
    output = run_python(RUNNER, str(SCRIPTS / script), json.dumps(job), timeout=600)
    return json.loads(output.splitlines()[-1])


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, Path, dict[str, Any]]:
    """The tiny split and one run trained by the train entry (and what that process saw)."""
    split = tiny_decoded_split(tmp_path_factory.mktemp("data"), DATASET)
    run = tmp_path_factory.mktemp("run")
    arrays = {name: [str(split / f"{name}-images.npy"), str(split / f"{name}-labels.npy")]
              for name in ("train", "validation", "test")}  # fmt: skip
    job = {
        "named": {
            "input": {**arrays, "manifest": str(split / "manifest.csv")},
            "output": {
                "model": str(run / "model.keras"), "history": str(run / "history.csv"),
                "params": str(run / "params.yaml"), "summary": str(run / "train.json"),
            },
            "params": {
                "settings": check_settings(SETTINGS, "test").as_dict(), "dataset": DATASET,
                "description": {}, "state": str(run / "state"),
            },
            "wildcards": {"seed": "1"},
            "resources": {"runs_per_gpu": 1},  # gpu_memory_mb unset, as Snakemake leaves it
        },
        "log": [str(run / "train.log")],
        "threads": 2,
    }  # fmt: skip
    return split, run, run_entry("train.py", job)


def test_the_train_job_keeps_its_priority_and_skips_the_final_collection(trained):
    _, run, seen = trained
    assert json.loads((run / "train.json").read_text())["status"] == "ok"
    assert len(seen["niceness"]) > 2  # TensorFlow's threads are among them
    # Training is the critical path of a study: it must not yield the cores to anyone.
    assert set(seen["niceness"]) == {seen["started"]}
    assert seen["frozen"] > 10_000  # TensorFlow's objects, left out of the last collection
    # Neither Keras' scikit-learn wrapper nor its matplotlib gallery: ~2 s of every start-up.
    assert seen["loaded"] == []


def test_the_evaluate_job_runs_every_thread_in_the_background(trained, tmp_path):
    split, run, _ = trained
    job = {
        "named": {
            "input": {
                "model": str(run / "model.keras"), "summary": str(run / "train.json"),
                "test": [str(split / "test-images.npy"), str(split / "test-labels.npy")],
                "manifest": str(split / "manifest.csv"),
            },
            "output": {
                "metrics": str(tmp_path / "metrics.json"),
                "per_class": str(tmp_path / "per_class.csv"),
                "confusion": str(tmp_path / "confusion.csv"),
                "predictions": str(tmp_path / "predictions.csv"),
            },
            "params": {"dataset": DATASET, "batch_size": 16},
        },
        "log": [str(tmp_path / "evaluate.log")],
        "threads": 1,
    }  # fmt: skip
    seen = run_entry("evaluate.py", job)
    assert json.loads((tmp_path / "metrics.json").read_text())["images"] > 0
    assert len(seen["niceness"]) > 2
    # Every thread, BLAS' and TensorFlow's pools included, not only the one that asked.
    expected = min(seen["started"] + BACKGROUND_NICENESS, 19)
    assert set(seen["niceness"]) == {expected}
    assert seen["frozen"] > 10_000
    assert seen["loaded"] == ["sklearn"]  # its metrics, not Keras' wrapper; no matplotlib


def test_modules_skipped_while_keras_loads_can_still_be_imported_after():
    code = (
        "import sys\n"
        "from ablate.train import runtime\n"
        "runtime.import_tensorflow()\n"
        "skipped = [name for name in runtime.SKIPPED_BY_KERAS if name in sys.modules]\n"
        "import sklearn.metrics, matplotlib.pyplot\n"
        "print(skipped, sklearn.metrics.accuracy_score([1, 0], [1, 1]))\n"
    )
    assert run_python(code).splitlines()[-1] == "[] 0.5"


def test_skipping_the_final_collection_still_runs_exit_handlers(tmp_path):
    """Why gc.freeze and not os._exit: TensorFlow's and the job's own exit handlers run."""
    mark = tmp_path / "exit-handler-ran"
    code = (
        "import atexit, gc, pathlib, sys, tensorflow\n"
        "from ablate.train import runtime\n"
        f"atexit.register(pathlib.Path({str(mark)!r}).touch)\n"
        "runtime.skip_final_collection()\n"
        "print(len(gc.get_objects()))\n"
    )
    # What the final collection still has to walk: almost nothing of TensorFlow's graph.
    assert int(run_python(code).split()[-1]) < 1_000
    assert mark.exists()
