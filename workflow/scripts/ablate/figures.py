"""Comparison figures (seaborn, PNG) drawn from the aggregated tables."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display needed

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from matplotlib.ticker import MaxNLocator

PALETTE = "colorblind"
METRIC_LABELS = {
    "val_accuracy": "validation accuracy",
    "val_loss": "validation loss (cross-entropy)",
    "test_accuracy": "test accuracy",
}


def _save(figure: plt.Figure, path: str | Path) -> None:
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def learning_curves(history: pd.DataFrame, metric: str, path: str | Path) -> None:
    """One line per cell over epochs; the band spans the seeds (mean +/- one std)."""
    sns.set_theme(style="whitegrid")
    figure, axes = plt.subplots(figsize=(11, 4.5))
    sns.lineplot(
        data=history, x="epoch", y=metric, hue="cell", errorbar="sd", palette=PALETTE, ax=axes
    )
    axes.set(xlabel="epoch", ylabel=METRIC_LABELS.get(metric, metric))
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_title(f"{METRIC_LABELS.get(metric, metric)} per epoch (band: +/- 1 std over seeds)")
    axes.legend(title="cell", fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1))
    _save(figure, path)


def test_accuracy(runs: pd.DataFrame, baseline: str, path: str | Path) -> None:
    """Mean test accuracy per cell with +/- 1 std error bars; dots are single seeds."""
    sns.set_theme(style="whitegrid")
    labelled = runs.assign(
        cell=runs["cell"].where(runs["cell"] != baseline, runs["cell"] + " (baseline)")
    )
    order = labelled.groupby("cell", sort=False)["test_accuracy"].mean().sort_values().index
    figure, axes = plt.subplots(figsize=(10, 1.4 + 0.5 * len(order)))
    sns.barplot(
        data=labelled,
        y="cell",
        x="test_accuracy",
        order=order,
        errorbar="sd",
        color=sns.color_palette(PALETTE)[0],
        alpha=0.6,
        ax=axes,
    )
    sns.stripplot(
        data=labelled, y="cell", x="test_accuracy", order=order, color="black", size=4, ax=axes
    )
    low = max(0.0, labelled["test_accuracy"].min() - 0.05)
    axes.set(xlabel="test accuracy", ylabel="", xlim=(low, 1.0))
    axes.set_title("Test accuracy per cell\n(bar: mean, line: +/- 1 std, dots: single seeds)")
    _save(figure, path)


def factor_effects(runs: pd.DataFrame, factors: Sequence[str], path: str | Path) -> None:
    """Mean test accuracy at each level of each factor, averaged over the other factors."""
    sns.set_theme(style="whitegrid")
    panels = list(factors) or [None]
    widths = [max(3, 1.6 * runs[f].nunique()) if f else 4 for f in panels]
    figure, axes = plt.subplots(
        1,
        len(panels),
        figsize=(sum(widths) + 1, 4),
        sharey=True,
        squeeze=False,
        gridspec_kw={"width_ratios": widths},
    )
    for axis, factor in zip(axes[0], panels, strict=True):
        if factor is None:
            axis.text(0.5, 0.5, "no factors declared", ha="center", va="center")
            axis.set_axis_off()
            continue
        sns.pointplot(
            data=runs,
            x=factor,
            y="test_accuracy",
            errorbar=("ci", 95),
            ax=axis,
            color=sns.color_palette(PALETTE)[1],
            capsize=0.1,
        )
        axis.set(xlabel=f"level of '{factor}'", ylabel="test accuracy")
    figure.suptitle("Effect of each factor (mean over cells and seeds, 95% CI)")
    _save(figure, path)
