"""Test accuracy per cell: summary.csv's mean, 95 % interval over seeds and test images and
verdict against the baseline; runs.csv's seeds."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from ablate.results.figures import style

# Marker per verdict against the baseline (the baseline itself is a diamond).
MARKERS = {"better": "^", "worse": "v", "no difference": "s", "undecided": "o"}


def _failed_note(summary: pd.DataFrame) -> str:
    failed = int(summary["failed"].sum())
    not_run = int(summary["not_run"].sum())
    missing = summary.loc[summary["n"] == 0, "cell"].astype(str).tolist()
    parts = []
    if failed:
        parts.append(f"{failed} failed run{'s' if failed != 1 else ''} left out")
    if not_run:
        parts.append(f"{not_run} run{'s' if not_run != 1 else ''} with no result yet")
    if missing:
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        parts.append(f"no successful run: {', '.join(missing[:3])}{more}")
    return "; ".join(parts)


def test_accuracy(summary: pd.DataFrame, runs: pd.DataFrame, path: str | Path) -> dict[str, Any]:
    """Each cell's mean test accuracy with its 95 % interval (summary.csv's
    ``test_accuracy_mean``, ``_ci_low``, ``_ci_high``, ``n``); dots are the single seeds of
    runs.csv's successful runs. Cells are sorted by mean, best at the top; the baseline
    (summary's ``baseline`` column) is labelled, drawn in its own colour and marked by a
    dashed line at its mean. The right-hand axis repeats the numbers.

    The marker's shape is the cell's verdict against the baseline (``vs_baseline_verdict``),
    also written on the right.

    Returns ``{"cells": [top to bottom], "mean", "low", "high", "n", "verdict": [parallel
    lists],
    "baseline": name or None if it has no successful run, "baseline_mean": float or None,
    "note": text about failed runs or ""}``.
    """
    title = "Test accuracy per cell"
    note = _failed_note(summary)
    table = summary[(summary["n"] > 0) & summary["test_accuracy_mean"].notna()]
    if table.empty:
        style.placeholder(path, title, "no successful runs" + (f"\n({note})" if note else ""))
        empty: dict[str, Any] = {
            "cells": [], "mean": [], "low": [], "high": [], "n": [], "verdict": []
        }  # fmt: skip
        return {**empty, "baseline": None, "baseline_mean": None, "note": note}
    table = table.rename(
        columns={
            "test_accuracy_mean": "mean",
            "test_accuracy_ci_low": "low",
            "test_accuracy_ci_high": "high",
        }
    )
    verdicts = table["vs_baseline_verdict"].where(~table["baseline"].astype(bool), "")
    table = table.assign(cell=table["cell"].astype(str), verdict=verdicts.fillna(""))
    table = table.sort_values("mean", ascending=False, kind="stable").reset_index(drop=True)
    cells = list(table["cell"])
    marked = table.loc[table["baseline"].astype(bool), "cell"].tolist()
    shown_baseline = marked[0] if marked else None
    ok = style.ok_runs(runs)
    ok = ok[ok["cell"].isin(cells)]

    style.theme()
    height = max(3.4, 2.1 + style.cell_height(cells) * len(cells))
    figure, axis = plt.subplots(figsize=(11, height), layout="constrained")
    colours = style.colours(2)
    positions = np.arange(len(cells))[::-1]  # best at the top
    where = dict(zip(cells, positions, strict=True))
    for row, y in zip(table.itertuples(), positions, strict=True):
        is_base = row.cell == shown_baseline
        colour = colours[1] if is_base else colours[0]
        if pd.notna(row.low) and pd.notna(row.high):
            axis.plot([row.low, row.high], [y, y], color=colour, linewidth=2.4, zorder=2)
            axis.plot([row.low, row.high], [y, y], "|", color=colour, markersize=12, zorder=2)
        marker = "D" if is_base else MARKERS.get(row.verdict, "o")
        axis.plot(row.mean, y, marker, color=colour, markersize=9, zorder=3, mec="k")
    jitter = np.random.default_rng(0).uniform(-0.12, 0.12, len(ok))
    axis.scatter(
        ok["test_accuracy"],
        ok["cell"].map(where) + jitter,
        s=16,
        facecolor="none",
        edgecolor="0.2",
        linewidth=0.8,
        zorder=4,
    )
    labels = [style.wrap(c) + ("\n(baseline)" if c == shown_baseline else "") for c in cells]
    axis.set_yticks(positions, labels, fontsize="small")
    for tick, cell in zip(axis.get_yticklabels(), cells, strict=True):
        if cell == shown_baseline:
            tick.set_fontweight("bold")
    baseline_mean = None
    if shown_baseline is not None:
        baseline_mean = float(table.loc[table["cell"] == shown_baseline, "mean"].iloc[0])
        axis.axvline(baseline_mean, color=colours[1], linestyle="--", linewidth=1.2, zorder=1)
    values = pd.concat([table["low"], table["high"], table["mean"], ok["test_accuracy"]])
    values = values.dropna()
    span = max(values.max() - values.min(), 0.02)
    axis.set_xlim(max(0.0, values.min() - 0.08 * span), min(1.0, values.max() + 0.08 * span))
    axis.set_ylim(-0.6, len(cells) - 0.4)
    axis.set_xlabel("test accuracy (fraction of test images classified correctly)")
    axis.grid(axis="y", visible=False)

    right = axis.twinx()
    right.set_ylim(axis.get_ylim())
    right.set_yticks(
        positions,
        [
            (
                f"{r.mean:.3f} [{r.low:.3f}, {r.high:.3f}]  n={r.n}"
                if pd.notna(r.low)
                else f"{r.mean:.3f}  n={r.n} (no CI)"
            )
            + (f"  {r.verdict}" if r.verdict else "")
            for r in table.itertuples()
        ],
        fontsize="small",
    )
    right.grid(False)

    handles = [
        Line2D([], [], marker=marker, color=colours[0], mec="k", linestyle="", label=verdict)
        for verdict, marker in MARKERS.items()
    ]
    handles += [
        Line2D([], [], color=colours[0], linewidth=2.4, label="95% CI"),
        Line2D([], [], marker="o", linestyle="", mfc="none", mec="0.2", label="single seeds"),
    ]
    if shown_baseline is not None:
        handles.append(Line2D([], [], color=colours[1], linestyle="--", label="baseline mean"))
    figure.legend(handles=handles, loc="outside lower center", ncol=4, frameon=False)
    axis.set_title(
        f"{title}, best at the top\n"
        "marker: mean over seeds, its shape the verdict against the baseline"
        "\nline: 95% CI over seeds and test images; hollow dots: single seeds"
        "\nright: mean [95% CI], n = successful seeds, verdict"
        + (f"\n{textwrap.fill(f'({note})', 120)}" if note else ""),
        fontsize="medium",
    )
    style.save(figure, path)
    return {
        "cells": cells,
        "mean": table["mean"].tolist(),
        "low": table["low"].tolist(),
        "high": table["high"].tolist(),
        "n": table["n"].astype(int).tolist(),
        "verdict": table["verdict"].tolist(),
        "baseline": shown_baseline,
        "baseline_mean": baseline_mean,
        "note": note,
    }
