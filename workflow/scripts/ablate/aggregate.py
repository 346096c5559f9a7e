"""Collect every cell x seed into tidy tables: one row per run, one per cell, one per epoch."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

# Per-run values summarised over seeds in summary.csv.
SUMMARISED = [
    "test_accuracy",
    "test_loss",
    "test_macro_f1",
    "best_epoch",
    "train_seconds",
    "images_per_second",
]


def collect_runs(
    study: str,
    runs: Sequence[Mapping[str, Any]],
    train_summaries: Sequence[str | Path],
    test_metrics: Sequence[str | Path],
) -> pd.DataFrame:
    """One row per cell x seed. ``runs[i]`` ({cell, seed, levels}) describes the i-th files."""
    rows = []
    for run, train_path, test_path in zip(runs, train_summaries, test_metrics, strict=True):
        train = json.loads(Path(train_path).read_text())
        test = json.loads(Path(test_path).read_text())
        rows.append(
            {
                "study": study,
                "cell": run["cell"],
                **run["levels"],
                "seed": run["seed"],
                "test_accuracy": test["accuracy"],
                "test_loss": test["loss"],
                "test_macro_f1": test["macro_f1"],
                "test_images": test["images"],
                "best_epoch": train["best_epoch"],
                "epochs_run": train["epochs_run"],
                "best_val_loss": train["best_val_loss"],
                "best_val_accuracy": train["best_val_accuracy"],
                "train_seconds": train["train_seconds"],
                "images_per_second": train["images_per_second"],
                "num_params": train["num_params"],
            }
        )
    return pd.DataFrame(rows)


def summarise(runs: pd.DataFrame, factors: Sequence[str], baseline: str) -> pd.DataFrame:
    """Per cell: mean, std and n over seeds of each summarised value; the baseline is flagged."""
    keys = ["study", "cell", *factors]
    grouped = runs.groupby(keys, sort=False)[SUMMARISED]
    summary = grouped.agg(["mean", "std", "count"])
    summary.columns = [f"{value}_{stat}" for value, stat in summary.columns]
    summary = summary.rename(columns={"test_accuracy_count": "n"})
    summary = summary.drop(columns=[c for c in summary.columns if c.endswith("_count")])
    summary = summary.reset_index()
    summary.insert(len(keys), "baseline", summary["cell"] == baseline)
    return summary


def collect_histories(
    runs: Sequence[Mapping[str, Any]], histories: Sequence[str | Path]
) -> pd.DataFrame:
    """One row per cell x seed x epoch (epochs counted from 1)."""
    frames = []
    for run, path in zip(runs, histories, strict=True):
        history = pd.read_csv(path)
        history["epoch"] += 1  # Keras' CSVLogger counts from 0
        frames.append(history.assign(cell=run["cell"], seed=run["seed"], **run["levels"]))
    table = pd.concat(frames, ignore_index=True)
    first = ["cell", *runs[0]["levels"], "seed", "epoch"] if runs else []
    return table[first + [c for c in table.columns if c not in first]]
