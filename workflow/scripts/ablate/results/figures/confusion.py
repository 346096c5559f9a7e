"""Confusion matrices: each cell's best seed (runs.csv), normalised per true class."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import Normalize, PowerNorm

from ablate.results.figures import style
from ablate.results.io import read_table

MAX_ANNOTATED_CLASSES = 12  # above this, no numbers and no class names


def _read_confusion(path: str | Path) -> pd.DataFrame:
    """A confusion matrix with text class names on both axes, columns in the rows' order."""
    matrix = read_table(path, index_col=0, dtype={"true": str})
    matrix.index = matrix.index.astype(str)
    matrix.columns = matrix.columns.astype(str)
    order = list(matrix.index) + [c for c in matrix.columns if c not in set(matrix.index)]
    return matrix.reindex(index=order, columns=order, fill_value=0).astype(float)


def _fraction(value: float) -> str:
    """Confusion-matrix annotation: two decimals without the leading zero; exact zeros as 0."""
    if pd.isna(value):
        return ""
    return "0" if value == 0 else f"{value:.2f}".removeprefix("0")


def _short(name: str, width: int = 14) -> str:
    return name if len(name) <= width else name[: width - 1] + "…"


def _matrix_panel(axis: plt.Axes, matrix: pd.DataFrame, cmap: str, norm: Normalize) -> None:
    """One row-normalised confusion matrix drawn with plain matplotlib.

    (``sns.heatmap`` redraws the whole figure for every panel, far too slow for 40 panels.)
    """
    size = len(matrix)
    values = matrix.to_numpy(dtype=float)
    axis.imshow(np.ma.masked_invalid(values), cmap=cmap, norm=norm, interpolation="nearest")
    axis.grid(False)
    if size > MAX_ANNOTATED_CLASSES:
        axis.set_xticks([])
        axis.set_yticks([])
        axis.set(xlabel=f"predicted class ({size} classes)", ylabel=f"true class ({size})")
        return
    names = [_short(c) for c in matrix.index]
    rotation = 90 if max(len(name) for name in names) > 3 else 0
    axis.set_xticks(range(size), names, rotation=rotation, fontsize="small")
    axis.set_yticks(range(size), names, fontsize="small")
    axis.set(xlabel="predicted class", ylabel="true class")
    axis.set_xticks(np.arange(size + 1) - 0.5, minor=True)
    axis.set_yticks(np.arange(size + 1) - 0.5, minor=True)
    axis.grid(which="minor", color="white", linewidth=0.8)
    axis.tick_params(which="minor", length=0)
    fontsize = 9 if size <= 6 else 7
    for (row, column), value in np.ndenumerate(values):
        if not np.isnan(value):
            colour = "white" if value > 0.55 else "0.15"
            text = _fraction(value)
            axis.text(column, row, text, ha="center", va="center", color=colour, size=fontsize)


def confusion_matrices(
    runs: pd.DataFrame,
    confusion_paths: Mapping[tuple[str, Hashable], str | Path],
    path: str | Path,
) -> dict[str, Any]:
    """Row-normalised confusion matrix (recall per true class) of each cell's best seed.

    ``confusion_paths`` maps (cell, seed) to a CSV written by ``DataFrame.to_csv`` (index: true
    class, columns: predicted class, counts). For each cell the ok run with the highest test
    accuracy that has an existing CSV is shown (ties: the lowest seed). Values are annotated
    with at most 12 classes; with more, neither values nor class names are drawn (and the
    colour scale is a square root, so small confusions show). Rows without test images stay
    blank.

    Returns ``{"cells": [panel order], "seeds": {cell: seed}, "accuracy": {cell: acc},
    "classes": {cell: count}, "recall": {cell: [diagonal, in class order]}}``.
    """
    title = "Confusion matrices"
    available = {
        (str(cell), int(seed)): csv
        for (cell, seed), csv in confusion_paths.items()
        if Path(csv).is_file()
    }
    ok = style.ok_runs(runs)
    ok = ok[[(c, int(s)) in available for c, s in zip(ok["cell"], ok["seed"], strict=True)]]
    result: dict[str, Any] = {"cells": [], "seeds": {}, "accuracy": {}, "classes": {}}
    result["recall"] = {}
    if ok.empty:
        style.placeholder(path, title, "no successful run with a confusion matrix")
        return result
    ok = ok.sort_values("seed", kind="stable")
    matrices = {}
    for cell in pd.unique(runs["cell"].astype(str)):
        candidates = ok[ok["cell"] == cell]
        if candidates.empty:
            continue
        best = candidates.loc[candidates["test_accuracy"].idxmax()]
        seed = int(best["seed"])
        counts = _read_confusion(available[(cell, seed)])
        support = counts.sum(axis=1)
        matrices[cell] = counts.div(support.where(support > 0), axis=0)
        result["cells"].append(cell)
        result["seeds"][cell] = seed
        result["accuracy"][cell] = float(best["test_accuracy"])
        result["classes"][cell] = len(counts)
        result["recall"][cell] = np.diag(matrices[cell].to_numpy()).tolist()

    style.theme()
    most = max(result["classes"].values())
    annotate = most <= MAX_ANNOTATED_CLASSES
    side = min(5.5, 2.6 + 0.25 * most) if annotate else 3.4
    figure, axes = style.grid(len(matrices), 4, (side, side + style.title_height(list(matrices))))
    cmap = "Blues"
    # With many classes most off-diagonal fractions are tiny: a square-root scale shows them.
    norm = Normalize(0, 1) if annotate else PowerNorm(0.5, 0, 1)
    scale = "" if annotate else " (square-root colour scale)"
    for axis, (cell, matrix) in zip(axes, matrices.items(), strict=True):
        _matrix_panel(axis, matrix, cmap, norm)
        seed, accuracy = result["seeds"][cell], result["accuracy"][cell]
        axis.set_title(f"{style.wrap(cell)}\n(seed {seed}, acc {accuracy:.3f})", fontsize="small")
    figure.colorbar(  # beside the first row, where the eye starts
        plt.cm.ScalarMappable(norm=norm, cmap=cmap),
        ax=axes[:4],
        shrink=0.9,
        label=f"fraction of the true class's\ntest images{scale}",
    )
    style.suptitle(
        figure,
        f"{title}: each cell's best seed by test accuracy\n"
        "rows normalised to 1: diagonal = recall per true class",
    )
    style.save(figure, path)
    return result
