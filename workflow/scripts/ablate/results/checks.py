"""Warnings about a study's runs: what a reader of the summary should not miss.

Each check returns rows of (cell, seed, check, message); ``cell`` is empty for a warning
about the whole study and ``seed`` is empty for one about a whole cell.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pandas as pd

from ablate import status
from ablate.data.duplicates import leak_share

COLUMNS = ["cell", "seed", "check", "message"]
Row = tuple[str, Any, str, str]


def study_warnings(
    runs: pd.DataFrame,
    history: pd.DataFrame,
    manifest: pd.DataFrame,
    divergence_gap: float,
    near_duplicates: pd.DataFrame | None = None,
    conflicting_labels: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Every warning, in the order a reader should see them. ``near_duplicates`` and
    ``conflicting_labels`` are the split step's tables of them (data/*.csv)."""
    rows = [
        *failed_runs(runs),
        *missing_seeds(runs),
        *test_set_use(runs, manifest),
        *leaks(near_duplicates, conflicting_labels, manifest),
        *divergence(runs, history, divergence_gap),
        *best_epoch_is_last(runs),
    ]
    table = pd.DataFrame(rows, columns=COLUMNS)
    return table.astype({"seed": "Int64"})


def failed_runs(runs: pd.DataFrame) -> Iterator[Row]:
    for run in runs[runs["status"] == status.FAILED].itertuples():
        yield run.cell, run.seed, status.FAILED, f"seed {run.seed} failed: {run.reason}"
    for run in runs[runs["status"] == status.NOT_RUN].itertuples():
        yield run.cell, run.seed, status.NOT_RUN, f"seed {run.seed} has no result: {run.reason}"
    for cell in missing_cells(runs):
        yield cell, None, "no_result", "no seed finished: the cell has no test results"


def finished_seeds(runs: pd.DataFrame) -> pd.Series:
    """Per cell (in order of appearance): how many of its seeds finished."""
    return (runs["status"] == status.OK).groupby(runs["cell"], sort=False).sum()


def missing_cells(runs: pd.DataFrame) -> list[str]:
    """Cells without a single finished seed."""
    finished = finished_seeds(runs)
    return finished.index[finished == 0].tolist()


def missing_seeds(runs: pd.DataFrame) -> Iterator[Row]:
    """Cells compared on fewer successful seeds than they were to train (every row of a
    cell in ``runs`` is a seed it was given: all of the study's seeds, or in an adaptive
    study the rounds it trained, so a cell that stopped early is not short of seeds)."""
    finished = finished_seeds(runs)
    given = runs.groupby("cell", sort=False).size()
    for cell, count in finished.items():
        if 0 < count < given[cell]:
            yield (
                cell, None, "fewer_seeds",
                f"{count} of {given[cell]} seeds finished: its mean and interval rest on "
                "fewer runs",
            )  # fmt: skip


def test_set_use(runs: pd.DataFrame, manifest: pd.DataFrame) -> Iterator[Row]:
    """Model selection must see train and validation only; the test images must not be
    byte-identical copies of images the model trained or was selected on."""
    for run in status.ok(runs).itertuples():
        read = str(run.splits_read).split(";")
        if "test" in read:
            yield run.cell, run.seed, "test_set_use", "training read the test split"
        if not str(run.monitor).startswith("val_"):
            yield (
                run.cell, run.seed, "test_set_use",
                f"the checkpoint was selected on '{run.monitor}', not on a validation metric",
            )  # fmt: skip
    seen = manifest.loc[manifest["split"] != "test", "sha256"]
    test = manifest[manifest["split"] == "test"]
    copies = test[test["sha256"].isin(set(seen))]
    if len(copies):
        yield (
            "", None, "test_set_use",
            f"{len(copies)} test images are byte-identical to train/validation images "
            f"(e.g. {copies['file'].iloc[0]}): test accuracy overstates generalisation",
        )  # fmt: skip


def leaks(
    near_duplicates: pd.DataFrame | None,
    conflicting_labels: pd.DataFrame | None,
    manifest: pd.DataFrame,
) -> Iterator[Row]:
    """Test images that are copies of train/validation images (ablate.data.duplicates,
    found at split time), with their share of the test split, and identical images filed
    under more than one class: both make test accuracy say less than it seems."""
    if near_duplicates is not None and len(near_duplicates):
        example = near_duplicates.iloc[0]
        yield (
            "", None, "test_set_use",
            f"{leak_share(near_duplicates, manifest)} (e.g. {example['test_file']} ~ "
            f"{example['other_file']}; all in data/near_duplicates.csv): test accuracy "
            "overstates generalisation",
        )  # fmt: skip
    if conflicting_labels is not None and len(conflicting_labels):
        images = conflicting_labels["sha256"].nunique()
        yield (
            "", None, "conflicting_labels",
            f"{images} images appear under more than one class (data/conflicting_labels.csv): "
            "at least one of each is labelled wrong",
        )  # fmt: skip


def divergence(runs: pd.DataFrame, history: pd.DataFrame, gap: float) -> Iterator[Row]:
    """Training accuracy far above validation accuracy at the last epoch: the model learns
    the training images but not the task (S5's shared BatchNorm layer: 0.907 vs 0.10)."""
    if history.empty or not {"accuracy", "val_accuracy"} <= set(history.columns):
        return
    ok = status.ok(runs)[["cell", "seed"]]
    last = history.sort_values("epoch").groupby(["cell", "seed"], sort=False).tail(1)
    last = last.merge(ok, on=["cell", "seed"])
    for row in last.itertuples():
        if row.accuracy - row.val_accuracy >= gap:
            yield (
                row.cell, row.seed, "divergence",
                f"train accuracy {row.accuracy:.3f} vs validation {row.val_accuracy:.3f} "
                f"after epoch {int(row.epoch)}: the model does not generalise",
            )  # fmt: skip


def best_epoch_is_last(runs: pd.DataFrame) -> Iterator[Row]:
    """The kept epoch is the last one: validation was still improving, so the cell is
    probably under-trained and its comparison with the others unfair."""
    ok = status.ok(runs)
    ok = ok[ok["epochs_run"] > 1]
    for run in ok[ok["best_epoch"] == ok["epochs_run"]].itertuples():
        yield (
            run.cell, run.seed, "best_epoch_is_last",
            f"best epoch is the last ({int(run.best_epoch)}): more epochs may still help",
        )  # fmt: skip


def per_cell(warnings: pd.DataFrame, cells: list[str]) -> pd.Series:
    """One line per cell joining its checks' names with counts (study-wide ones included)."""
    study_wide = warnings[warnings["cell"] == ""]["check"].tolist()
    joined = {}
    for cell in cells:
        checks = warnings.loc[warnings["cell"] == cell, "check"].tolist() + study_wide
        counts = pd.Series(checks, dtype=str).value_counts(sort=False)
        joined[cell] = "; ".join(
            check if count == 1 else f"{check} x{count}" for check, count in counts.items()
        )
    return pd.Series(joined, name="warnings")
