"""What every figure shares: the theme, colours, labels, layout helpers and saving.

Figures only draw: the numbers come from the aggregate's tables (summary.csv, effects.csv,
level_means.csv, runs.csv, history.csv), so a figure and a table never disagree.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display needed

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from ablate import status

PALETTE = "colorblind"
DPI = 120
METRIC_LABELS = {
    "accuracy": "training accuracy (fraction correct)",
    "loss": "training loss (cross-entropy)",
    "val_accuracy": "validation accuracy (fraction correct)",
    "val_loss": "validation loss (cross-entropy)",
    "test_accuracy": "test accuracy (fraction correct)",
    "learning_rate": "learning rate",
}
LINESTYLES = ["-", "--", ":", "-."]  # cycled after the palette's 10 colours


def theme() -> None:
    sns.set_theme(style="whitegrid", context="notebook", palette=PALETTE, font_scale=0.9)


def colours(count: int) -> list[tuple[float, float, float]]:
    return sns.color_palette(PALETTE, n_colors=max(count, 1))


def metric_label(metric: str) -> str:
    return METRIC_LABELS.get(metric, metric.replace("_", " "))


def wrap(cell: str) -> str:
    """A cell name on several lines, one ``factor-level`` per line."""
    return cell.replace("__", "\n")


def one_line(cell: str) -> str:
    return cell.replace("__", ", ")


def suptitle(figure: plt.Figure, text: str) -> None:
    """A figure title wrapped to the figure's width (narrow figures would cut it off)."""
    width = max(30, int(figure.get_figwidth() * 11))
    lines = [textwrap.fill(line, width) for line in text.split("\n")]
    figure.suptitle("\n".join(lines), fontsize="medium")


def save(figure: plt.Figure, path: str | Path) -> None:
    try:
        figure.savefig(path, dpi=DPI)
    finally:
        plt.close(figure)


def placeholder(path: str | Path, title: str, message: str) -> None:
    """One empty panel that says why there is nothing to draw (the file is always written)."""
    theme()
    figure, axis = plt.subplots(figsize=(7, 2.6), layout="constrained")
    axis.text(0.5, 0.5, message, ha="center", va="center", wrap=True, fontsize=11)
    axis.set_axis_off()
    suptitle(figure, title)
    save(figure, path)


def ok_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """The successful runs that have a test accuracy, cell names as text."""
    ok = status.ok(runs)
    ok = ok[ok["test_accuracy"].notna()].copy()
    ok["cell"] = ok["cell"].astype(str)
    return ok


def ok_history(history: pd.DataFrame, runs: pd.DataFrame | None, columns: list[str]):
    """History rows with the given columns present; only successful runs when ``runs`` given."""
    frame = history.dropna(subset=columns).copy()
    frame["cell"] = frame["cell"].astype(str)
    if runs is not None:
        ok = ok_runs(runs)
        pairs = set(zip(ok["cell"], ok["seed"].astype(int), strict=True))
        keys = zip(frame["cell"], frame["seed"].astype(int), strict=True)
        frame = frame[[key in pairs for key in keys]]
    return frame


def accuracy_limits(axis: plt.Axes) -> None:
    """Keep an accuracy axis within [0, 1]: with two or three seeds a t interval can reach
    far past both ends and would squash the means into a thin band."""
    low, high = axis.get_ylim()
    axis.set_ylim(max(low, -0.02), min(high, 1.02))


def grid(count: int, max_columns: int, panel: tuple[float, float], **kwargs: Any):
    """Small multiples: a figure and the ``count`` used axes (unused slots removed)."""
    columns = min(max_columns, max(count, 1))
    rows = math.ceil(max(count, 1) / columns)
    figure, axes = plt.subplots(
        rows,
        columns,
        figsize=(max(6.0, panel[0] * columns + 0.8), panel[1] * rows + 1.0),
        squeeze=False,
        layout="constrained",
        **kwargs,
    )
    flat = list(axes.flat)
    for index, axis in enumerate(flat[count:], start=count):
        axis.remove()
        above = index - columns
        if above >= 0 and above < count:  # the panel above now ends its column
            flat[above].xaxis.set_tick_params(labelbottom=True)
    return figure, flat[:count]


def title_height(cells: Sequence[str]) -> float:
    """Inches taken by panel titles made of a wrapped cell name plus one line."""
    return 0.17 * (max(c.count("__") + 1 for c in cells) + 1)


def cell_height(cells: Sequence[str]) -> float:
    """Inches per row of a figure with one row per (wrapped) cell name."""
    lines = max((c.count("__") + 1 for c in cells), default=1)
    return 0.2 + 0.15 * lines


def tilt_if_crowded(axis: plt.Axes, labels: Sequence[str], width: float) -> None:
    """Rotate category tick labels that would run into each other on an axis ``width`` wide."""
    if labels and max(len(str(label)) for label in labels) * len(labels) > width * 9:
        axis.tick_params(axis="x", labelrotation=30)
        for tick in axis.get_xticklabels():
            tick.set_horizontalalignment("right")
            tick.set_rotation_mode("anchor")
