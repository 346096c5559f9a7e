"""End to end: the real snakemake trains real Keras models on a tiny digits study."""

from __future__ import annotations

import base64
import json
import shutil

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import REPO, planned_jobs, run_study, snakemake, tiny_config, write_config
from PIL import Image

TINY_CELLS = [
    "augmentation-none__regularization-none",
    "augmentation-geometric__regularization-none",
    "augmentation-none__regularization-dropout",
]
SEEDS = [1, 2]
FIGURES = ["test_accuracy", "factor_effects", "interactions", "heatmap", "val_accuracy",
           "val_loss", "train_validation_gap", "confusion_matrices", "timing"]  # fmt: skip
TABLES = ["summary", "warnings", "effects", "runs"]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A finished run of the tiny study (one-at-a-time design: 3 cells x 2 seeds)."""
    return run_study(tmp_path_factory.mktemp("tiny"), tiny_config())


def run_dir(workdir, cell, seed):
    return workdir / "results" / "tiny" / "cells" / cell / f"seed-{seed}"


def test_every_artifact_is_written(tiny_run):
    study = tiny_run / "results" / "tiny"
    for cell in TINY_CELLS:
        for seed in SEEDS:
            folder = run_dir(tiny_run, cell, seed)
            for name in ("model.keras", "history.csv", "params.yaml", "train.json"):
                assert (folder / name).stat().st_size > 0, folder / name
            for name in ("metrics.json", "per_class.csv", "confusion_matrix.csv"):
                assert (folder / "test" / name).stat().st_size > 0, folder / name
            for step in ("train", "evaluate"):
                assert (study / "logs" / step / cell / f"seed-{seed}.log").stat().st_size > 0
                benchmark = pd.read_csv(
                    study / "benchmarks" / step / cell / f"seed-{seed}.tsv", sep="\t"
                )
                assert len(benchmark) == 1 and benchmark.loc[0, "s"] > 0
    for split in ("train", "validation", "test"):
        assert sorted(p.name for p in (study / "data" / "split" / split).iterdir()) == [
            str(d) for d in range(10)
        ]
    for name in FIGURES:
        with Image.open(study / "figures" / f"{name}.png") as figure:
            assert figure.format == "PNG"
            assert figure.width >= 400 and figure.height >= 200
            darkest, lightest = figure.convert("L").getextrema()
            assert darkest < lightest  # something drawn, not a blank canvas


def test_each_run_history_and_summary_agree_epoch_by_epoch(tiny_run):
    for cell in TINY_CELLS:
        for seed in SEEDS:
            folder = run_dir(tiny_run, cell, seed)
            history = pd.read_csv(folder / "history.csv")
            assert history["epoch"].tolist() == [1, 2]
            columns = ["loss", "accuracy", "val_loss", "val_accuracy", "learning_rate"]
            assert set(columns) <= set(history.columns)
            assert history[columns].notna().all().all()
            summary = json.loads((folder / "train.json").read_text())
            best = history.set_index("epoch").loc[summary["best_epoch"]]
            assert summary["best_val_loss"] == pytest.approx(best["val_loss"])
            assert summary["best_val_loss"] == pytest.approx(history["val_loss"].min())
            assert summary["epochs_run"] == 2 and summary["status"] == "ok"


def test_every_run_lists_each_test_image_with_its_prediction(tiny_run):
    """test/predictions.csv: one row per test image of the manifest, with its true class;
    the run's metrics, per-class scores and confusion matrix all follow from it."""
    study = tiny_run / "results" / "tiny"
    manifest = pd.read_csv(study / "data" / "manifest.csv", dtype={"class": str})
    test_images = manifest[manifest["split"] == "test"].set_index("file")["class"]
    runs = pd.read_csv(study / "runs.csv").set_index(["cell", "seed"])
    for cell in TINY_CELLS:
        for seed in SEEDS:
            folder = run_dir(tiny_run, cell, seed) / "test"
            predictions = pd.read_csv(
                folder / "predictions.csv", dtype={"true": str, "predicted": str}
            )
            assert list(predictions.columns) == ["image", "true", "predicted", "p_true"]
            assert sorted(predictions["image"]) == sorted(test_images.index)
            assert predictions["image"].is_unique
            assert (predictions["true"] == test_images[predictions["image"]].values).all()
            assert predictions["p_true"].between(0, 1).all()
            correct = predictions["true"] == predictions["predicted"]
            metrics = json.loads((folder / "metrics.json").read_text())
            assert metrics["images"] == len(predictions) == len(test_images)
            assert metrics["accuracy"] == pytest.approx(correct.mean())
            assert metrics["loss"] == pytest.approx(-np.log(predictions["p_true"]).mean(), rel=1e-4)
            assert runs.loc[(cell, seed), "test_accuracy"] == pytest.approx(correct.mean())
            confusion = pd.read_csv(folder / "confusion_matrix.csv", index_col=0)
            confusion.index = confusion.index.astype(str)
            counted = pd.crosstab(predictions["true"], predictions["predicted"])
            for true, row in counted.iterrows():
                for predicted, count in row.items():
                    assert confusion.loc[true, predicted] == count
            assert confusion.to_numpy().sum() == len(predictions)
            per_class = pd.read_csv(folder / "per_class.csv", dtype={"class": str})
            support = predictions["true"].value_counts()
            assert (
                per_class.set_index("class")["support"] == support[per_class["class"]].values
            ).all()


def test_predictions_are_the_kept_model_on_the_test_images(tiny_run):
    from ablate.train import runtime

    runtime.configure()
    import keras

    folder = run_dir(tiny_run, TINY_CELLS[0], 1)
    arrays = tiny_run / "results/tiny/data/arrays"
    images = np.load(arrays / "test-images.npy")
    labels = np.load(arrays / "test-labels.npy")
    model = keras.models.load_model(folder / "model.keras")
    probabilities = model.predict(images.astype("float32"), verbose=0)
    manifest = pd.read_csv(tiny_run / "results/tiny/data/manifest.csv")
    files = manifest.loc[manifest["split"] == "test", "file"].tolist()
    p_true = pd.Series(probabilities[np.arange(len(labels)), labels], index=files)
    predictions = pd.read_csv(folder / "test" / "predictions.csv").set_index("image")
    np.testing.assert_allclose(predictions["p_true"], p_true[predictions.index], rtol=1e-4)


def test_runs_csv_has_one_row_per_cell_and_seed(tiny_run):
    runs = pd.read_csv(tiny_run / "results" / "tiny" / "runs.csv")
    assert list(runs.columns) == [
        "study", "cell", "augmentation", "regularization", "seed", "status", "reason",
        "test_accuracy", "test_loss", "test_macro_f1", "test_images",
        "best_epoch", "epochs_run", "best_val_loss", "best_val_accuracy",
        "train_seconds", "images_per_second", "num_params", "monitor", "splits_read",
    ]  # fmt: skip
    assert (runs["status"] == "ok").all() and runs["reason"].isna().all()
    assert (runs["splits_read"] == "train;validation").all()
    assert sorted(zip(runs["cell"], runs["seed"], strict=True)) == sorted(
        (cell, seed) for cell in TINY_CELLS for seed in SEEDS
    )
    assert (runs["study"] == "tiny").all()
    assert runs["test_accuracy"].between(0, 1).all()
    assert runs["best_val_accuracy"].between(0, 1).all()
    assert (runs["test_loss"] > 0).all()
    assert (runs["epochs_run"] == 2).all()
    assert runs["best_epoch"].isin([1, 2]).all()
    assert (runs["images_per_second"] > 0).all() and (runs["train_seconds"] > 0).all()
    manifest = pd.read_csv(tiny_run / "results" / "tiny" / "data" / "manifest.csv")
    assert len(manifest) == 120  # 12 per class
    quarantine = pd.read_csv(tiny_run / "results" / "tiny" / "data" / "quarantine.csv")
    assert list(quarantine.columns) == ["source", "class", "reason"] and quarantine.empty
    assert (runs["test_images"] == (manifest["split"] == "test").sum()).all()
    dropout = runs[runs["regularization"] == "dropout"]
    assert set(dropout["cell"]) == {"augmentation-none__regularization-dropout"}
    assert set(runs["augmentation"]) == {"none", "geometric"}


def test_summary_csv_covers_every_cell_over_seeds(tiny_run):
    summary = pd.read_csv(tiny_run / "results" / "tiny" / "summary.csv")
    assert summary["cell"].tolist() == TINY_CELLS
    assert (summary["n"] == 2).all()
    assert summary["baseline"].tolist() == [True, False, False]
    assert summary["test_accuracy_mean"].between(0, 1).all()
    assert (summary["test_accuracy_std"] >= 0).all()


def test_with_keep_going_failed_cells_are_marked_and_the_rest_is_summarised(tiny_run, tmp_path):
    """Issues 5 and 7. A cell whose loss goes NaN is recorded as failed, with its reason;
    a cell whose job crashes fails its job; with --keep-going the others finish and the
    tables, figures and report are made from the finished runs, naming what is missing."""
    workdir = tmp_path / "study"
    shutil.copytree(tiny_run, workdir, symlinks=True)  # data and baseline up to date
    config = tiny_config(
        design="list",
        cells=[{}, {"regularization": "diverge"}, {"regularization": "crash"}],
        seeds=[1],
    )
    config["factors"]["regularization"].update(
        diverge={"optimizer": {"name": "sgd", "learning_rate": float("inf")}},
        # Keras refuses a negative momentum when the job builds the optimizer.
        crash={"optimizer": {"name": "sgd", "learning_rate": 0.01, "momentum": -1}},
    )
    write_config(workdir, config)
    result = snakemake(workdir, "--cores", "2", "--keep-going", check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]  # the crashed job is a failed job
    assert "summarising the runs that finished" in output
    study = workdir / "results" / "tiny"
    diverged = "augmentation-none__regularization-diverge"
    crashed = "augmentation-none__regularization-crash"
    log = (study / "logs" / "train" / diverged / "seed-1.log").read_text()
    assert "run failed: training loss became NaN in epoch 1" in log
    runs = pd.read_csv(study / "runs.csv").set_index("cell")
    assert runs["status"].to_dict() == {TINY_CELLS[0]: "ok", diverged: "failed", crashed: "not_run"}
    assert "loss became NaN" in runs.loc[diverged, "reason"]
    assert runs.loc[[diverged, crashed], "test_accuracy"].isna().all()
    summary = pd.read_csv(study / "summary.csv").set_index("cell")
    assert summary["n"].to_dict() == {TINY_CELLS[0]: 1, diverged: 0, crashed: 0}
    assert summary.loc[diverged, "warnings"] == "failed; no_result"
    assert summary.loc[crashed, "warnings"] == "not_run; no_result"
    aggregate_log = (study / "logs" / "aggregate.log").read_text()
    assert f"cells without any result: {diverged}, {crashed}" in aggregate_log
    assert "no_result (2x)" in output
    assert "loss became NaN" in (study / "tables" / "warnings.html").read_text()
    for name in FIGURES:  # drawn again from the partial tables (not the copied ones)
        figure = study / "figures" / f"{name}.png"
        assert figure.stat().st_mtime >= (study / "runs.csv").stat().st_mtime, name
    # The next full run retrains only the crashed run (the diverged one is a recorded
    # result) and replaces the partial tables.
    jobs = planned_jobs(snakemake(workdir, "--dry-run"))
    assert [w["cell"] for rule, w in jobs if rule == "train"] == [crashed]
    assert {"aggregate", "tables", "figures"} <= {rule for rule, _ in jobs}


def test_the_partial_look_summarises_the_finished_runs_without_training(tiny_run, tmp_path):
    """README: the tables of a study that another snakemake is still running, from the runs
    done so far (one run here has no result yet, as if its train job were running)."""
    workdir = tmp_path / "running"
    shutil.copytree(tiny_run, workdir, symlinks=True)
    unfinished = run_dir(workdir, TINY_CELLS[2], 2)
    shutil.rmtree(unfinished)
    result = snakemake(
        workdir, "--cores", "1", "--config", "partial=True", "--nolock",
        "--allowed-rules", "all", "aggregate", "tables", "describe", "figures",
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert "rule train" not in output and "rule evaluate" not in output
    assert not unfinished.exists()  # nothing was trained
    study = workdir / "results" / "tiny"
    runs = pd.read_csv(study / "runs.csv").set_index(["cell", "seed"])
    assert runs.loc[(TINY_CELLS[2], 2), "status"] == "not_run"
    assert (runs.drop(index=(TINY_CELLS[2], 2))["status"] == "ok").all()
    summary = pd.read_csv(study / "summary.csv").set_index("cell")
    assert summary["n"].to_dict() == {TINY_CELLS[0]: 2, TINY_CELLS[1]: 2, TINY_CELLS[2]: 1}
    for name in FIGURES:
        figure = study / "figures" / f"{name}.png"
        assert figure.stat().st_mtime >= (study / "runs.csv").stat().st_mtime, name
    # The full run afterwards trains the missing run only.
    jobs = planned_jobs(snakemake(workdir, "--dry-run"))
    assert [(w["cell"], w["seed"]) for rule, w in jobs if rule == "train"] == [(TINY_CELLS[2], "2")]


def test_decoding_every_epoch_runs_end_to_end_without_array_files(tiny_run, tmp_path):
    workdir = tmp_path / "every_epoch"
    shutil.copytree(tiny_run, workdir, symlinks=True)
    study = workdir / "results" / "tiny"
    shutil.rmtree(study / "data" / "arrays")
    config = tiny_config(design="list", cells=[{}], seeds=[1])
    config["dataset"]["decode"] = "every_epoch"
    write_config(workdir, config)
    planned = {rule for rule, _ in planned_jobs(snakemake(workdir, "--dry-run"))}
    assert {"train", "evaluate"} <= planned and "decode" not in planned
    snakemake(workdir, "--cores", "2", "--resources", "gpu=1", "--show-failed-logs")
    assert not (study / "data" / "arrays").exists()
    manifest = pd.read_csv(study / "data" / "manifest.csv")
    summary = json.loads((run_dir(workdir, TINY_CELLS[0], 1) / "train.json").read_text())
    assert summary["status"] == "ok" and summary["epochs_run"] == 2
    assert summary["train_images"] == (manifest["split"] == "train").sum()
    predictions = pd.read_csv(run_dir(workdir, TINY_CELLS[0], 1) / "test" / "predictions.csv")
    assert sorted(predictions["image"]) == sorted(manifest.loc[manifest["split"] == "test", "file"])
    runs = pd.read_csv(study / "runs.csv")
    assert runs["status"].tolist() == ["ok"] and runs["test_accuracy"].between(0, 1).all()


def test_params_yaml_holds_the_resolved_settings(tiny_run):
    cell = "augmentation-none__regularization-dropout"
    params = yaml.safe_load((run_dir(tiny_run, cell, 2) / "params.yaml").read_text())
    assert params["cell"] == cell and params["seed"] == 2 and params["study"] == "tiny"
    assert params["levels"] == {"augmentation": "none", "regularization": "dropout"}
    assert params["model"]["dropout"] == 0.3
    assert params["model"]["filters"] == [4, 8]
    assert params["dataset"] == {"image_size": [16, 16], "color_mode": "grayscale"}
    assert params["epochs"] == 2


def test_every_run_and_the_study_record_the_commit_and_versions_that_produced_them(tiny_run):
    from ablate.provenance import git_state, versions

    # The checkout the tests run from (a CI clone is one); its state as the runs saw it.
    expected = {"workflow": git_state(REPO), "versions": versions()}
    assert expected["workflow"]["commit"] and expected["versions"]["tensorflow"]
    for seed in (1, 2):
        params = yaml.safe_load(
            (run_dir(tiny_run, TINY_CELLS[0], seed) / "params.yaml").read_text()
        )
        assert params["provenance"] == expected  # no GPU here: no gpus, no cuda
    study = yaml.safe_load((tiny_run / "results" / "tiny" / "study.yaml").read_text())
    assert study["provenance"] == expected
    page = (tiny_run / "results" / "tiny" / "tables" / "study.html").read_text()
    assert expected["workflow"]["commit"] in page  # the report's study page shows it


def test_kept_checkpoint_is_the_epoch_with_the_lowest_validation_loss(tiny_run):
    from ablate.train import runtime

    runtime.configure()
    import keras

    from ablate.data.pipeline import evaluation_pipeline, split_batches

    folder = run_dir(tiny_run, TINY_CELLS[0], 1)
    history = pd.read_csv(folder / "history.csv")
    summary = json.loads((folder / "train.json").read_text())
    assert summary["best_epoch"] == history.loc[history["val_loss"].idxmin(), "epoch"]
    model = keras.models.load_model(folder / "model.keras")
    arrays = tiny_run / "results/tiny/data/arrays"
    files = [arrays / "validation-images.npy", arrays / "validation-labels.npy"]
    validation, _ = split_batches(files, "validation", 32)
    loss, _ = model.evaluate(evaluation_pipeline(validation, 10), verbose=0)
    assert loss == pytest.approx(history["val_loss"].min(), rel=1e-4)


def test_snakemake_report_holds_every_figure_and_table(tiny_run, tmp_path):
    report = tmp_path / "report.html"
    snakemake(tiny_run, "--report", str(report))
    html = report.read_text()
    names = [f"figures/{name}.png" for name in FIGURES] + ["study.yaml", "tables/study.html"]
    names += [f"{name}.csv" for name in TABLES] + [f"tables/{name}.html" for name in TABLES]
    for name in names:
        assert f"results/tiny/{name}" in html, name
    # The report is self-contained: each figure is embedded, byte for byte.
    study = tiny_run / "results" / "tiny"
    for name in FIGURES:
        encoded = base64.b64encode((study / "figures" / f"{name}.png").read_bytes()).decode()
        assert encoded in html, name


def test_a_finished_study_is_up_to_date(tiny_run):
    result = snakemake(tiny_run, "--dry-run")
    assert planned_jobs(result) == []
    assert "Nothing to be done" in result.stdout + result.stderr


def test_sharing_gpus_differently_retrains_nothing(tiny_run, tmp_path):
    workdir = tmp_path / "shared"
    shutil.copytree(tiny_run, workdir, symlinks=True)  # copies mtimes and .snakemake/
    config = tiny_config()
    config["resources"].update(runs_per_gpu=3, gpu_memory_mb=2000)
    write_config(workdir, config)
    result = snakemake(workdir, "--dry-run")
    # Only study.yaml, the record of the config as run, is written again.
    assert {rule for rule, _ in planned_jobs(result)} == {"describe", "all"}


def test_changing_one_level_reruns_only_the_cells_that_use_it(tiny_run, tmp_path):
    workdir = tmp_path / "edited"
    shutil.copytree(tiny_run, workdir, symlinks=True)  # copies mtimes and .snakemake/
    config = tiny_config()
    config["factors"]["regularization"]["dropout"]["model"]["dropout"] = 0.5
    write_config(workdir, config)
    jobs = planned_jobs(snakemake(workdir, "--dry-run"))
    retrained = sorted((w["cell"], w["seed"]) for rule, w in jobs if rule == "train")
    assert retrained == [("augmentation-none__regularization-dropout", "1"),
                         ("augmentation-none__regularization-dropout", "2")]  # fmt: skip
    assert sorted(rule for rule, _ in jobs) == sorted(
        ["train"] * 2 + ["evaluate"] * 2 + ["aggregate", "tables", "describe", "figures", "all"]
    )


@pytest.mark.parametrize(
    ("design", "listed", "cells"),
    [
        ("full", [], ["augmentation-none__regularization-none",
                      "augmentation-none__regularization-dropout",
                      "augmentation-geometric__regularization-none",
                      "augmentation-geometric__regularization-dropout"]),
        ("list", [{"augmentation": "geometric", "regularization": "dropout"}],
         ["augmentation-geometric__regularization-dropout"]),
    ],
)  # fmt: skip
def test_designs_plan_one_train_job_per_cell_and_seed(tmp_path, design, listed, cells):
    write_config(tmp_path, tiny_config(design=design, cells=listed))
    jobs = planned_jobs(snakemake(tmp_path, "--dry-run"))
    trained = sorted((w["cell"], int(w["seed"])) for rule, w in jobs if rule == "train")
    assert trained == sorted((cell, seed) for cell in cells for seed in SEEDS)


def test_train_jobs_claim_the_gpus_their_cell_asks_for(tmp_path):
    config = tiny_config(design="list", cells=[{}, {"regularization": "dropout"}])
    config["factors"]["regularization"]["dropout"]["gpus"] = 2
    config["resources"] = {"cpus": 3, "mem_mb": 5000, "runtime": 45}
    write_config(tmp_path, config)
    jobs = planned_jobs(snakemake(tmp_path, "--dry-run", "--cores", "4", "--resources", "gpu=2"))
    claimed = {(w["cell"], w["gpu"]) for rule, w in jobs if rule == "train"}
    assert claimed == {
        ("augmentation-none__regularization-none", "1"),
        ("augmentation-none__regularization-dropout", "2"),
    }
    # CPUs, memory and time limit of every train job come from the config's resources.
    for rule, fields in jobs:
        if rule == "train":
            assert (fields["threads"], fields["mem_mb"], fields["runtime"]) == ("3", "5000", "45")


@pytest.mark.parametrize(
    ("patch", "expected"),
    [
        ({"base": {"epoch": 3}}, ["'epoch' was unexpected"]),
        ({"design": "fulll"}, ["unknown design 'fulll'. Did you mean 'full'?", "one-at-a-time"]),
        ({"seeds": [1, "two"]}, ["'two' is not of type 'integer'"]),
        ({"dataset": {"source": "builtin:digits", "color_mode": "cmyk"}}, ["'cmyk'", "grayscale"]),
        ({"base": {"model": {"name": "resnet9"}}}, ["unknown model 'resnet9'", "small_convnet"]),
        ({"baseline": {"augmentation": "flip"}}, ["baseline.augmentation", "none, geometric"]),
    ],
)  # fmt: skip
def test_a_bad_config_fails_before_any_job_naming_the_key(tmp_path, patch, expected):
    config = tiny_config()
    for key, value in patch.items():
        if key == "base":
            config["base"] = {**config["base"], **value}
        else:
            config[key] = value
    write_config(tmp_path, config)
    result = snakemake(tmp_path, "--dry-run", check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    for text in expected:
        assert text in output, output[-3000:]
    assert not (tmp_path / "results").exists()


def test_the_partial_look_works_before_any_run_has_finished(tmp_path):
    """The README's look at a running study, while its first train jobs still run: every
    run is listed as not run, and the tables, figures and report exist."""
    write_config(tmp_path, tiny_config())
    snakemake(tmp_path, "--cores", "2", "results/tiny/data/manifest.csv")
    snakemake(tmp_path, "--cores", "1", "--config", "partial=True", "--nolock",
              "--allowed-rules", "all", "aggregate", "tables", "describe", "figures")  # fmt: skip
    runs = pd.read_csv(tmp_path / "results/tiny/runs.csv")
    assert len(runs) == 6 and (runs["status"] == "not_run").all()
    summary = pd.read_csv(tmp_path / "results/tiny/summary.csv")
    assert (summary["n"] == 0).all() and (summary["not_run"] == 2).all()
    assert (summary["failed"] == 0).all()  # not failed: not run yet
    assert (tmp_path / "results/tiny/figures/test_accuracy.png").stat().st_size > 0
    assert not list((tmp_path / "results/tiny/cells").glob("*/seed-*/model.keras"))
