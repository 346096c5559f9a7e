"""A train job killed mid-run resumes after its last finished epoch when run again."""

import json
import os
import signal
import subprocess
import time

import pandas as pd
import pytest
from conftest import snakemake, snakemake_command, tiny_config, write_config

CELL = "augmentation-none__regularization-none"
EPOCHS = 12


def resume_config():
    """One cell, all 1,797 digits at 32x32: epochs long enough to kill one mid-run."""
    config = tiny_config(design="list", cells=[{}], seeds=[1])
    config["dataset"].update(max_per_class=None, image_size=[32, 32])
    config["base"]["epochs"] = EPOCHS
    config["base"]["model"].update(filters=[16, 32], dense_units=32)
    return config


def finished_epochs(history):
    """Rows of a history CSV that Keras is still writing (header first, then one per epoch)."""
    return max(0, len(history.read_text().splitlines()) - 1) if history.exists() else 0


def run_folder(workdir):
    return workdir / "results" / "tiny" / "cells" / CELL / "seed-1"


def validation_loss(workdir):
    """The kept model.keras evaluated on the study's validation arrays."""
    from ablate.train import runtime

    runtime.configure()
    import keras

    from ablate.data.pipeline import evaluation_pipeline, split_batches

    arrays = workdir / "results" / "tiny" / "data" / "arrays"
    files = [arrays / "validation-images.npy", arrays / "validation-labels.npy"]
    batches, _ = split_batches(files, "validation", 32)
    model = keras.models.load_model(run_folder(workdir) / "model.keras")
    return model.evaluate(evaluation_pipeline(batches, 10), verbose=0)[0]


def test_a_killed_train_job_resumes_and_keeps_the_best_epoch_over_both_runs(tmp_path):
    killed = tmp_path / "killed"
    write_config(killed, resume_config())
    progress = killed / "results" / "tiny" / "state" / CELL / "seed-1" / "history.csv"
    process = subprocess.Popen(
        snakemake_command(killed, "--cores", "2", "--resources", "gpu=1"),
        start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 300
    while finished_epochs(progress) < 3:
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail("the train job ended before it could be killed")
        time.sleep(0.1)
    os.killpg(process.pid, signal.SIGKILL)  # snakemake and its job, like a power cut
    process.wait()
    assert not (run_folder(killed) / "model.keras").exists()

    snakemake(killed, "--unlock")
    snakemake(killed, "--cores", "2", "--resources", "gpu=1", "--show-failed-logs")
    summary = json.loads((run_folder(killed) / "train.json").read_text())
    history = pd.read_csv(run_folder(killed) / "history.csv")
    assert summary["resumed_after_epoch"] >= 2
    log = killed / "results" / "tiny" / "logs" / "train" / CELL / "seed-1.log"
    assert f"resuming after epoch {summary['resumed_after_epoch']}" in log.read_text()
    # Epochs counted from 1, as Keras prints them; no gap, no duplicate.
    assert history["epoch"].tolist() == list(range(1, EPOCHS + 1))
    assert summary["epochs_run"] == EPOCHS
    # The kept checkpoint is the best of all epochs, before and after the restart.
    assert summary["best_epoch"] == history.loc[history["val_loss"].idxmin(), "epoch"]
    assert summary["best_val_loss"] == pytest.approx(history["val_loss"].min())
    # ... and model.keras is that epoch's checkpoint: on the validation split it gives
    # the best epoch's val_loss again (tests/test_training.py checks this for a kill
    # before the best epoch, where a lost best-so-far would keep a worse one).
    assert validation_loss(killed) == pytest.approx(summary["best_val_loss"], rel=1e-4)
    # The state is cleared once the outputs exist, with its now empty cell and study folders.
    assert not (killed / "results" / "tiny" / "state").exists()

    uninterrupted = tmp_path / "uninterrupted"
    write_config(uninterrupted, resume_config())
    snakemake(uninterrupted, "--cores", "2", "--resources", "gpu=1")
    reference = pd.read_csv(run_folder(uninterrupted) / "history.csv")
    assert list(reference.columns) == list(history.columns)
    assert reference["epoch"].tolist() == history["epoch"].tolist()
    runs = [
        pd.read_csv(folder / "results" / "tiny" / "runs.csv")
        for folder in (killed, tmp_path / "uninterrupted")
    ]
    for table in runs:
        assert table.loc[0, "test_accuracy"] > 0.9
