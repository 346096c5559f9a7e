"""Training cost per cell: summary.csv's mean time and throughput, runs.csv's seeds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ablate.results.figures import style


def timing(summary: pd.DataFrame, runs: pd.DataFrame, path: str | Path) -> dict[str, Any]:
    """Training time per run (s) and training throughput (images/s) per cell.

    Bars are summary.csv's means over successful seeds (``train_seconds_mean``,
    ``images_per_second_mean``), dots runs.csv's single seeds; both panels share the cell
    order (the summary's, which follows the config); cells without a successful run are left
    out.

    Returns ``{"cells": [top to bottom], "seconds": {cell: mean s},
    "images_per_second": {cell: mean images/s}}``.
    """
    title = "Training cost per cell"
    shown = summary[summary["n"] > 0].assign(cell=lambda frame: frame["cell"].astype(str))
    columns = [
        ("train_seconds", "training time per run (s)"),
        ("images_per_second", "training throughput (images/s)"),
    ]
    if shown.empty:
        style.placeholder(path, title, "no successful runs")
        return {"cells": [], "seconds": {}, "images_per_second": {}}
    cells = shown["cell"].tolist()
    means = shown.set_index("cell")[[f"{c}_mean" for c, _ in columns]]
    means.columns = [c for c, _ in columns]
    ok = style.ok_runs(runs)
    ok = ok[ok["cell"].isin(cells)]

    style.theme()
    height = max(3.0, 1.7 + style.cell_height(cells) * len(cells))
    figure, axes = plt.subplots(
        1, 2, figsize=(12, height), sharey=True, squeeze=False, layout="constrained"
    )
    colours = style.colours(5)
    positions = np.arange(len(cells))[::-1]
    where = dict(zip(cells, positions, strict=True))
    jitter = np.random.default_rng(0).uniform(-0.15, 0.15, len(ok))
    for axis, (column, label), colour in zip(axes[0], columns, colours[2:4], strict=True):
        values = means[column].reindex(cells)
        axis.barh(positions, values, color=colour, alpha=0.7, height=0.6)
        axis.scatter(ok[column], ok["cell"].map(where) + jitter, s=14, color="0.15", zorder=3)
        top = pd.concat([values, ok[column]]).max()  # NaN when nothing was measured
        top = float(top) if pd.notna(top) else 0.0
        ends = ok.groupby("cell")[column].max().reindex(cells).fillna(0)
        for y, value, end in zip(positions, values, ends, strict=True):
            if pd.notna(value):
                text = f"{value:,.0f}" if value >= 100 else f"{value:.3g}"
                axis.text(max(value, end) + 0.03 * top, y, text, va="center", fontsize="small")
        axis.set_xlim(0, top * 1.18 if top > 0 else 1)
        axis.set_xlabel(label)
        axis.grid(axis="y", visible=False)
    axes[0][0].set_yticks(positions, [style.wrap(c) for c in cells], fontsize="small")
    style.suptitle(figure, f"{title}\nbars: mean over successful seeds, dots: single seeds")
    style.save(figure, path)
    return {
        "cells": cells,
        "seconds": means["train_seconds"].to_dict(),
        "images_per_second": means["images_per_second"].to_dict(),
    }
