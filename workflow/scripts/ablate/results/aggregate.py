"""Collect every cell x seed into tidy tables: one row per run, one per cell, one per epoch,
the effects of the factors, and the warnings a reader should not miss."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from ablate import status
from ablate.results import checks, sequential, statistics
from ablate.results.outcomes import Outcomes

# What runs.csv records of each run, after its cell, levels and seed.
RUN_VALUES = ["status", "reason", "test_accuracy", "test_loss", "test_macro_f1", "test_images",
              "best_epoch", "epochs_run", "best_val_loss", "best_val_accuracy", "train_seconds",
              "images_per_second", "num_params", "monitor", "splits_read"]  # fmt: skip


def collect_runs(
    study: str,
    runs: Sequence[Mapping[str, Any]],
    train_summaries: Sequence[str | Path],
    test_metrics: Sequence[str | Path],
    not_run: Sequence[Mapping[str, Any]] = (),
) -> pd.DataFrame:
    """One row per cell x seed. ``runs[i]`` ({cell, seed, levels}) describes the i-th files.
    A failed run keeps its row, with its reason and empty metrics; so does each of the
    ``not_run`` runs (a partial study), with status ``NOT_RUN``."""
    rows = []
    for run, train_path, test_path in zip(runs, train_summaries, test_metrics, strict=True):
        train = json.loads(Path(train_path).read_text())
        test = json.loads(Path(test_path).read_text())
        # A train.json without a status (written before it had one) records a success.
        succeeded = status.succeeded({"status": status.OK, **train})
        rows.append(
            {
                "study": study,
                "cell": run["cell"],
                **run["levels"],
                "seed": run["seed"],
                "status": status.OK if succeeded else status.FAILED,
                "reason": train.get("reason", ""),
                "test_accuracy": test.get("accuracy"),
                "test_loss": test.get("loss"),
                "test_macro_f1": test.get("macro_f1"),
                "test_images": test.get("images"),
                "best_epoch": train.get("best_epoch"),
                "epochs_run": train.get("epochs_run"),
                "best_val_loss": train.get("best_val_loss"),
                "best_val_accuracy": train.get("best_val_accuracy"),
                "train_seconds": train.get("train_seconds"),
                "images_per_second": train.get("images_per_second"),
                "num_params": train.get("num_params"),
                "monitor": train.get("monitor", ""),
                "splits_read": ";".join(train.get("splits_read", [])),
            }
        )
    for run in not_run:
        reason = "not finished: its job failed or has not run; run snakemake to train it"
        rows.append({"study": study, "cell": run["cell"], **run["levels"], "seed": run["seed"],
                     "status": status.NOT_RUN, "reason": reason})  # fmt: skip
    levels = list((runs or not_run)[0]["levels"]) if (runs or not_run) else []
    # Every column even when no run has finished yet (a partial look at a study just begun).
    table = pd.DataFrame(rows, columns=["study", "cell", *levels, "seed", *RUN_VALUES])
    # Failed runs have no values: keep these columns numeric (NaN) rather than object.
    numeric = [*statistics.METRICS, "test_images", "epochs_run", "best_val_loss",
               "best_val_accuracy", "num_params"]  # fmt: skip
    return table.astype({column: "float64" for column in numeric if column in table})


def summarise(
    runs: pd.DataFrame,
    factors: Sequence[str],
    baseline: str,
    outcomes: Outcomes,
    min_effect: float,
    warnings: pd.DataFrame | None = None,
    rounds: Mapping[str, Mapping[str, Any]] | None = None,
    looks: Sequence[int] = (),
    multiplicity: str = statistics.HOLM,
) -> pd.DataFrame:
    """Per cell: mean, std and 95 % interval of each summarised value (over seeds and test
    images for test accuracy and macro F1), the paired comparison of test accuracy with the
    baseline with its verdict, and the cell's warnings. For an adaptive study, ``rounds``
    is every cell's state after the last round (ablate.results.sequential) and ``looks``
    the seeds after each round: a cell's verdict is taken at the level of the look that
    stopped it, and the summary says how many rounds it trained and why it stopped.
    ``multiplicity`` (checks.multiplicity) is the family rule of a fixed design's verdicts."""
    summary = statistics.cell_statistics(runs, factors)
    summary = statistics.with_test_set_intervals(summary, outcomes)
    summary.insert(0, "study", runs["study"].iloc[0] if len(runs) else "")
    summary.insert(2 + len(factors), "baseline", summary["cell"] == baseline)
    alphas = last_look = None
    if rounds:
        alphas = sequential.stop_alphas(rounds, looks)
        last_look = (looks[-1], sequential.nominal_alphas(looks)[-1])
    compared = statistics.compare_with_baseline(runs, baseline, outcomes, min_effect, factors,
                                                alphas=alphas, last_look=last_look,
                                                multiplicity=multiplicity)  # fmt: skip
    compared = compared.drop(columns=[f for f in factors if f in compared]).set_index("cell")
    compared.columns = [f"vs_baseline_{column}" for column in compared.columns]
    summary = summary.join(compared, on="cell")
    test_images = len(outcomes.images)
    summary["vs_baseline_advice"] = statistics.seed_advice(summary, min_effect, test_images)
    if rounds:
        state = [rounds.get(cell) for cell in summary["cell"]]
        summary["rounds"] = [cell["round"] + 1 if cell else 0 for cell in state]
        summary["stopped_because"] = [cell["why"] if cell else "" for cell in state]
    if warnings is not None:
        summary = summary.join(checks.per_cell(warnings, summary["cell"].tolist()), on="cell")
    return summary


def collect_histories(
    runs: Sequence[Mapping[str, Any]], histories: Sequence[str | Path]
) -> pd.DataFrame:
    """One row per cell x seed x epoch (epochs counted from 1)."""
    frames = []
    for run, path in zip(runs, histories, strict=True):
        history = pd.read_csv(path)
        frames.append(history.assign(cell=run["cell"], seed=run["seed"], **run["levels"]))
    if not frames:  # a partial study in which nothing has finished yet
        return pd.DataFrame(columns=["cell", "seed", "epoch"])
    table = pd.concat(frames, ignore_index=True)
    first = ["cell", *runs[0]["levels"], "seed", "epoch"]
    return table[first + [c for c in table.columns if c not in first]]
