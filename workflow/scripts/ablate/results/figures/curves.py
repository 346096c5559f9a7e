"""Learning curves from history.csv: validation accuracy and loss per epoch, and the gap
between training and validation, each cell's seeds drawn as a mean line and a +/- 1 SD band."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from ablate.results.figures import style


def _curve_stats(frame: pd.DataFrame, metric: str) -> pd.DataFrame:
    grouped = frame.groupby(["cell", "epoch"], sort=False)[metric]
    table = grouped.agg(["mean", "std", "count"]).reset_index()
    table = table.rename(columns={"std": "sd", "count": "n"})
    rank = {cell: i for i, cell in enumerate(pd.unique(frame["cell"]))}
    table = table.assign(rank=table["cell"].map(rank)).sort_values(["rank", "epoch"])
    return table.drop(columns="rank").reset_index(drop=True)


def learning_curves(
    history: pd.DataFrame,
    metric: str,
    path: str | Path,
    *,
    runs: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """One line per cell over epochs: the mean over seeds, the band +/- one SD over seeds.

    With ``runs``, only successful (cell, seed) runs are drawn; rows whose ``metric`` is
    missing are always dropped. Runs stopped early simply contribute fewer epochs.

    Returns ``{"cells": [legend order], "band": "sd", "table": DataFrame}`` where the table
    has one row per cell x epoch drawn: ``cell, epoch, mean, sd, n``.
    """
    label = style.metric_label(metric)
    title = f"{label[:1].upper()}{label[1:]} per epoch"
    frame = style.ok_history(history, runs, [metric]) if metric in history.columns else history[:0]
    if frame.empty:
        style.placeholder(path, title, f"no values of '{metric}' to draw")
        return {"cells": [], "band": "sd", "table": pd.DataFrame()}
    table = _curve_stats(frame, metric)
    cells = list(pd.unique(table["cell"]))

    style.theme()
    legend_columns = max(1, min(4, 170 // (max(len(style.one_line(c)) for c in cells) + 6)))
    legend_rows = math.ceil(len(cells) / legend_columns)
    figure, axis = plt.subplots(figsize=(11, 4.6 + 0.24 * legend_rows), layout="constrained")
    colours = style.colours(min(len(cells), 10))
    for index, cell in enumerate(cells):
        curve = table[table["cell"] == cell]
        colour = colours[index % len(colours)]
        dash = style.LINESTYLES[(index // len(colours)) % len(style.LINESTYLES)]
        axis.plot(
            curve["epoch"],
            curve["mean"],
            color=colour,
            linestyle=dash,
            linewidth=1.8,
            label=style.one_line(cell),
        )
        spread = curve["sd"].fillna(0.0)
        axis.fill_between(
            curve["epoch"], curve["mean"] - spread, curve["mean"] + spread, color=colour, alpha=0.15
        )
    axis.set(xlabel="epoch", ylabel=label)
    axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    seeds = int(frame.groupby("cell")["seed"].nunique().max())
    axis.set_title(
        f"{title}\nline: mean over seeds (up to {seeds}), band: mean +/- 1 SD over seeds"
    )
    figure.legend(
        title="cell",
        loc="outside lower center",
        ncol=legend_columns,
        fontsize="small",
        frameon=False,
    )
    style.save(figure, path)
    return {"cells": cells, "band": "sd", "table": table.reset_index(drop=True)}


def train_validation_gap(
    history: pd.DataFrame,
    path: str | Path,
    *,
    metric: str = "accuracy",
    runs: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """Per cell, one panel: training vs validation ``metric`` over epochs (means over seeds).

    Bands are +/- one SD over seeds; the shaded area between the two lines is the gap.
    Panel titles give the gap (training - validation) at the last epoch.

    Returns ``{"cells": [panel order], "final_gap": {cell: training - validation}}`` at each
    cell's last epoch, using the means over seeds.
    """
    train, validation = metric, f"val_{metric}"
    title = f"Training vs validation {metric.replace('_', ' ')} per cell"
    columns = [train, validation]
    if not set(columns) <= set(history.columns):
        style.placeholder(path, title, f"history has no columns '{train}' and '{validation}'")
        return {"cells": [], "final_gap": {}}
    frame = style.ok_history(history, runs, columns)
    if frame.empty:
        style.placeholder(path, title, "no epochs to draw")
        return {"cells": [], "final_gap": {}}
    cells = list(pd.unique(frame["cell"]))

    style.theme()
    figure, axes = style.grid(
        len(cells), 4, (3.4, 2.3 + style.title_height(cells)), sharex=True, sharey=True
    )
    colours = style.colours(2)
    final_gap: dict[str, float] = {}
    for axis, cell in zip(axes, cells, strict=True):
        subset = frame[frame["cell"] == cell]
        means = {}
        for column, colour, dash in [(train, colours[0], "-"), (validation, colours[1], "--")]:
            curve = _curve_stats(subset, column)
            means[column] = curve
            spread = curve["sd"].fillna(0.0)
            axis.plot(curve["epoch"], curve["mean"], color=colour, linestyle=dash, linewidth=1.8)
            axis.fill_between(
                curve["epoch"],
                curve["mean"] - spread,
                curve["mean"] + spread,
                color=colour,
                alpha=0.15,
                linewidth=0,
            )
        both = means[train].merge(means[validation], on="epoch", suffixes=("_t", "_v"))
        axis.fill_between(
            both["epoch"], both["mean_t"], both["mean_v"], color="0.5", alpha=0.25, linewidth=0
        )
        last = both.iloc[-1]
        final_gap[cell] = float(last["mean_t"] - last["mean_v"])
        axis.set_title(
            f"{style.wrap(cell)}\ngap at epoch {int(last['epoch'])}: {final_gap[cell]:+.3f}",
            fontsize="small",
        )
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    columns_used = min(4, len(cells))
    for index, axis in enumerate(axes):
        if index + columns_used >= len(cells):  # the lowest panel of its column
            axis.set_xlabel("epoch")
    figure.supylabel(style.metric_label(metric).replace("training ", ""))
    style.suptitle(
        figure, f"{title}\nlines: mean over seeds, bands: +/- 1 SD over seeds, grey: the gap"
    )
    handles = [
        Line2D([], [], color=colours[0], linestyle="-", label=f"training ({train})"),
        Line2D([], [], color=colours[1], linestyle="--", label=f"validation ({validation})"),
        Patch(color="0.5", alpha=0.25, label="gap"),
    ]
    figure.legend(handles=handles, loc="outside lower center", ncol=3, frameon=False)
    style.save(figure, path)
    return {"cells": cells, "final_gap": final_gap}
