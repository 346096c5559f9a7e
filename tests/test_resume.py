"""A train job killed mid-run resumes after its last finished epoch when run again."""

import json
import os
import signal
import subprocess

import pandas as pd
import pytest
from conftest import holding, snakemake, snakemake_command, tiny_config, wait_for_mark, write_config

CELL = "augmentation-none__regularization-none"
EPOCHS = 6
KILLED_AFTER = 3


def resume_config():
    """One cell of the tiny study, one seed, long enough to be killed mid-run."""
    config = tiny_config(design="list", cells=[{}], seeds=[1])
    config["base"]["epochs"] = EPOCHS
    return config


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
    # The train job is held once it has finished epoch 3 (tests/hooks/sitecustomize.py),
    # so the kill lands there on any machine, however fast.
    mark = tmp_path / "held"
    process = subprocess.Popen(
        snakemake_command(killed, "--cores", "2", "--resources", "gpu=1"),
        start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env=holding(mark, KILLED_AFTER),
    )  # fmt: skip
    try:
        wait_for_mark(mark, process)
    finally:
        os.killpg(process.pid, signal.SIGKILL)  # snakemake and its job, like a power cut
        process.wait()
    assert not (run_folder(killed) / "model.keras").exists()

    snakemake(killed, "--unlock")
    snakemake(killed, "--cores", "2", "--resources", "gpu=1", "--show-failed-logs")
    summary = json.loads((run_folder(killed) / "train.json").read_text())
    history = pd.read_csv(run_folder(killed) / "history.csv")
    assert summary["resumed_after_epoch"] == KILLED_AFTER
    log = killed / "results" / "tiny" / "logs" / "train" / CELL / "seed-1.log"
    assert f"resuming after epoch {KILLED_AFTER}" in log.read_text()
    # Epochs counted from 1, as Keras prints them; no gap, no duplicate; the columns of
    # any run (CSVLogger's, in its sorted order).
    assert history["epoch"].tolist() == list(range(1, EPOCHS + 1))
    assert list(history.columns) == [
        "epoch", "accuracy", "learning_rate", "loss", "val_accuracy", "val_loss"
    ]  # fmt: skip
    assert history.notna().all().all()
    assert summary["epochs_run"] == EPOCHS
    # The kept checkpoint is the best of all epochs, before and after the restart.
    assert summary["best_epoch"] == history.loc[history["val_loss"].idxmin(), "epoch"]
    assert summary["best_val_loss"] == pytest.approx(history["val_loss"].min())
    # ... and model.keras is that epoch's checkpoint: on the validation split it gives
    # the best epoch's val_loss again (tests/test_training.py checks this for a kill
    # after the best epoch, where a lost best-so-far would keep a worse one).
    assert validation_loss(killed) == pytest.approx(summary["best_val_loss"], rel=1e-4)
    # The state is cleared once the outputs exist, with its now empty cell and study folders.
    assert not (killed / "results" / "tiny" / "state").exists()
    runs = pd.read_csv(killed / "results" / "tiny" / "runs.csv")
    assert runs["status"].tolist() == ["ok"] and runs["test_accuracy"].between(0, 1).all()
