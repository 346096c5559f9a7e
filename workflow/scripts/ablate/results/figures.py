"""Comparison figures (seaborn + matplotlib, PNG) drawn from the aggregated tables.

Every public function writes exactly one PNG to ``path``, closes its figure and returns a small
dict describing what it drew (the cells in the order shown and the plotted numbers), so that
tests and callers can check the figure's content without reading pixels.

Conventions shared by all figures:

* failed runs (``status != "ok"`` or a missing test accuracy) are left out; a cell without a
  single successful run does not appear;
* "95 % CI" is the exact Student-t interval of the mean over seeds,
  ``mean +/- t(0.975, n - 1) * sd / sqrt(n)``; with one seed there is no interval (NaN);
* long cell names (``factor-level__factor-level``) are wrapped at ``__``.
"""

from __future__ import annotations

import itertools
import math
import textwrap
from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display needed

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.colors import Normalize, PowerNorm
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import MaxNLocator

from ablate.results.statistics import mean_ci

PALETTE = "colorblind"
DPI = 120
MAX_ANNOTATED_CLASSES = 12  # confusion matrices: above this, no numbers and no class names
METRIC_LABELS = {
    "accuracy": "training accuracy (fraction correct)",
    "loss": "training loss (cross-entropy)",
    "val_accuracy": "validation accuracy (fraction correct)",
    "val_loss": "validation loss (cross-entropy)",
    "test_accuracy": "test accuracy (fraction correct)",
    "learning_rate": "learning rate",
}
LINESTYLES = ["-", "--", ":", "-."]  # cycled after the palette's 10 colours


# -- shared helpers ---------------------------------------------------------------------------


def _theme() -> None:
    sns.set_theme(style="whitegrid", context="notebook", palette=PALETTE, font_scale=0.9)


def _colours(count: int) -> list[tuple[float, float, float]]:
    return sns.color_palette(PALETTE, n_colors=max(count, 1))


def _metric_label(metric: str) -> str:
    return METRIC_LABELS.get(metric, metric.replace("_", " "))


def _wrap(cell: str) -> str:
    """A cell name on several lines, one ``factor-level`` per line."""
    return cell.replace("__", "\n")


def _one_line(cell: str) -> str:
    return cell.replace("__", ", ")


def _suptitle(figure: plt.Figure, text: str) -> None:
    """A figure title wrapped to the figure's width (narrow figures would cut it off)."""
    width = max(30, int(figure.get_figwidth() * 11))
    lines = [textwrap.fill(line, width) for line in text.split("\n")]
    figure.suptitle("\n".join(lines), fontsize="medium")


def _save(figure: plt.Figure, path: str | Path) -> None:
    try:
        figure.savefig(path, dpi=DPI)
    finally:
        plt.close(figure)


def _placeholder(path: str | Path, title: str, message: str) -> None:
    """One empty panel that says why there is nothing to draw (the file is always written)."""
    _theme()
    figure, axis = plt.subplots(figsize=(7, 2.6), layout="constrained")
    axis.text(0.5, 0.5, message, ha="center", va="center", wrap=True, fontsize=11)
    axis.set_axis_off()
    _suptitle(figure, title)
    _save(figure, path)


def _ok_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """The successful runs: status "ok" (when the column exists) and a test accuracy."""
    keep = runs["test_accuracy"].notna()
    if "status" in runs.columns:
        keep &= runs["status"].astype(str).str.lower() == "ok"
    ok = runs[keep].copy()
    ok["cell"] = ok["cell"].astype(str)
    return ok


def _ok_history(
    history: pd.DataFrame, runs: pd.DataFrame | None, columns: list[str]
) -> pd.DataFrame:
    """History rows with the given columns present; only successful runs when ``runs`` given."""
    frame = history.dropna(subset=columns).copy()
    frame["cell"] = frame["cell"].astype(str)
    if runs is not None:
        ok = _ok_runs(runs)
        pairs = set(zip(ok["cell"], ok["seed"].astype(int), strict=True))
        keys = zip(frame["cell"], frame["seed"].astype(int), strict=True)
        frame = frame[[key in pairs for key in keys]]
    return frame


def _levels(frame: pd.DataFrame, factor: str) -> list[str]:
    """A factor's levels as text, in order of first appearance (the config's order)."""
    return list(pd.unique(frame[factor].astype(str)))


def _accuracy_limits(axis: plt.Axes) -> None:
    """Keep an accuracy axis within [0, 1]: with two or three seeds a t interval can reach
    far past both ends and would squash the means into a thin band."""
    low, high = axis.get_ylim()
    axis.set_ylim(max(low, -0.02), min(high, 1.02))


def _summarise(frame: pd.DataFrame, keys: list[str], value: str) -> pd.DataFrame:
    """Per group (in order of appearance): mean, 95 % t-interval low/high and n of ``value``."""
    rows = []
    for key, group in frame.groupby(keys, sort=False):
        interval = mean_ci(group[value])
        key = key if isinstance(key, tuple) else (key,)
        stat = {
            "mean": interval.mean,
            "low": interval.ci_low,
            "high": interval.ci_high,
            "n": interval.n,
        }
        rows.append({**dict(zip(keys, key, strict=True)), **stat})
    return pd.DataFrame(rows, columns=[*keys, "mean", "low", "high", "n"])


def _grid(count: int, max_columns: int, panel: tuple[float, float], **kwargs: Any):
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


def _title_height(cells: Sequence[str]) -> float:
    """Inches taken by panel titles made of a wrapped cell name plus one line."""
    return 0.17 * (max(c.count("__") + 1 for c in cells) + 1)


def _tilt_if_crowded(axis: plt.Axes, labels: Sequence[str], width: float) -> None:
    """Rotate category tick labels that would run into each other on an axis ``width`` wide."""
    if labels and max(len(str(label)) for label in labels) * len(labels) > width * 9:
        axis.tick_params(axis="x", labelrotation=30)
        for tick in axis.get_xticklabels():
            tick.set_horizontalalignment("right")
            tick.set_rotation_mode("anchor")


def _failed_note(runs: pd.DataFrame, ok: pd.DataFrame) -> str:
    failed = len(runs) - len(ok)
    missing = [c for c in pd.unique(runs["cell"].astype(str)) if c not in set(ok["cell"])]
    parts = []
    if failed:
        parts.append(f"{failed} failed run{'s' if failed != 1 else ''} left out")
    if missing:
        named = ", ".join(missing[:3]) + (
            f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        )
        parts.append(f"no successful run: {named}")
    return "; ".join(parts)


# -- learning curves --------------------------------------------------------------------------


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
    label = _metric_label(metric)
    title = f"{label[:1].upper()}{label[1:]} per epoch"
    frame = _ok_history(history, runs, [metric]) if metric in history.columns else history[:0]
    if frame.empty:
        _placeholder(path, title, f"no values of '{metric}' to draw")
        return {"cells": [], "band": "sd", "table": pd.DataFrame()}
    table = _curve_stats(frame, metric)
    cells = list(pd.unique(table["cell"]))

    _theme()
    legend_columns = max(1, min(4, 170 // (max(len(_one_line(c)) for c in cells) + 6)))
    legend_rows = math.ceil(len(cells) / legend_columns)
    figure, axis = plt.subplots(figsize=(11, 4.6 + 0.24 * legend_rows), layout="constrained")
    colours = _colours(min(len(cells), 10))
    for index, cell in enumerate(cells):
        curve = table[table["cell"] == cell]
        colour = colours[index % len(colours)]
        style = LINESTYLES[(index // len(colours)) % len(LINESTYLES)]
        axis.plot(
            curve["epoch"],
            curve["mean"],
            color=colour,
            linestyle=style,
            linewidth=1.8,
            label=_one_line(cell),
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
    _save(figure, path)
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
        _placeholder(path, title, f"history has no columns '{train}' and '{validation}'")
        return {"cells": [], "final_gap": {}}
    frame = _ok_history(history, runs, columns)
    if frame.empty:
        _placeholder(path, title, "no epochs to draw")
        return {"cells": [], "final_gap": {}}
    cells = list(pd.unique(frame["cell"]))

    _theme()
    figure, axes = _grid(len(cells), 4, (3.4, 2.3 + _title_height(cells)), sharex=True, sharey=True)
    colours = _colours(2)
    final_gap: dict[str, float] = {}
    for axis, cell in zip(axes, cells, strict=True):
        subset = frame[frame["cell"] == cell]
        means = {}
        for column, colour, style in [(train, colours[0], "-"), (validation, colours[1], "--")]:
            curve = _curve_stats(subset, column)
            means[column] = curve
            spread = curve["sd"].fillna(0.0)
            axis.plot(curve["epoch"], curve["mean"], color=colour, linestyle=style, linewidth=1.8)
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
            f"{_wrap(cell)}\ngap at epoch {int(last['epoch'])}: {final_gap[cell]:+.3f}",
            fontsize="small",
        )
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    columns_used = min(4, len(cells))
    for index, axis in enumerate(axes):
        if index + columns_used >= len(cells):  # the lowest panel of its column
            axis.set_xlabel("epoch")
    figure.supylabel(_metric_label(metric).replace("training ", ""))
    _suptitle(figure, f"{title}\nlines: mean over seeds, bands: +/- 1 SD over seeds, grey: the gap")
    handles = [
        Line2D([], [], color=colours[0], linestyle="-", label=f"training ({train})"),
        Line2D([], [], color=colours[1], linestyle="--", label=f"validation ({validation})"),
        Patch(color="0.5", alpha=0.25, label="gap"),
    ]
    figure.legend(handles=handles, loc="outside lower center", ncol=3, frameon=False)
    _save(figure, path)
    return {"cells": cells, "final_gap": final_gap}


# -- comparisons of test accuracy -------------------------------------------------------------


def _cell_height(cells: Sequence[str]) -> float:
    lines = max((c.count("__") + 1 for c in cells), default=1)
    return 0.2 + 0.15 * lines


def test_accuracy(runs: pd.DataFrame, baseline: str, path: str | Path) -> dict[str, Any]:
    """Mean test accuracy per cell with its 95 % t-interval over seeds; dots are single seeds.

    Cells are sorted by mean, best at the top; the baseline is labelled, drawn in its own
    colour and marked by a vertical dashed line at its mean. The right-hand axis repeats the
    numbers.

    Returns ``{"cells": [top to bottom], "mean", "low", "high", "n": [parallel lists],
    "baseline": name or None if it has no successful run, "baseline_mean": float or None,
    "note": text about failed runs or ""}``.
    """
    title = "Test accuracy per cell"
    ok = _ok_runs(runs)
    note = _failed_note(runs, ok)
    if ok.empty:
        _placeholder(path, title, "no successful runs" + (f"\n({note})" if note else ""))
        empty: dict[str, Any] = {"cells": [], "mean": [], "low": [], "high": [], "n": []}
        return {**empty, "baseline": None, "baseline_mean": None, "note": note}
    table = _summarise(ok, ["cell"], "test_accuracy")
    table = table.sort_values("mean", ascending=False, kind="stable").reset_index(drop=True)
    cells = list(table["cell"])
    shown_baseline = baseline if baseline in cells else None

    _theme()
    height = max(3.4, 2.1 + _cell_height(cells) * len(cells))
    figure, axis = plt.subplots(figsize=(11, height), layout="constrained")
    colours = _colours(2)
    positions = np.arange(len(cells))[::-1]  # best at the top
    where = dict(zip(cells, positions, strict=True))
    for row, y in zip(table.itertuples(), positions, strict=True):
        is_base = row.cell == shown_baseline
        colour = colours[1] if is_base else colours[0]
        if row.n >= 2:
            axis.plot([row.low, row.high], [y, y], color=colour, linewidth=2.4, zorder=2)
            axis.plot([row.low, row.high], [y, y], "|", color=colour, markersize=12, zorder=2)
        axis.plot(
            row.mean, y, "D" if is_base else "o", color=colour, markersize=9, zorder=3, mec="k"
        )
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
    labels = [_wrap(c) + ("\n(baseline)" if c == shown_baseline else "") for c in cells]
    axis.set_yticks(positions, labels, fontsize="small")
    for tick, cell in zip(axis.get_yticklabels(), cells, strict=True):
        if cell == shown_baseline:
            tick.set_fontweight("bold")
    baseline_mean = None
    if shown_baseline is not None:
        baseline_mean = float(table.loc[table["cell"] == shown_baseline, "mean"].iloc[0])
        axis.axvline(baseline_mean, color=colours[1], linestyle="--", linewidth=1.2, zorder=1)
    values = pd.concat([table["low"], table["high"], ok["test_accuracy"]]).dropna()
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
            f"{r.mean:.3f} [{r.low:.3f}, {r.high:.3f}]  n={r.n}"
            if r.n >= 2
            else f"{r.mean:.3f}  n={r.n} (no CI)"
            for r in table.itertuples()
        ],
        fontsize="small",
    )
    right.grid(False)

    handles = [
        Line2D([], [], marker="o", color=colours[0], mec="k", linewidth=2.4, label="mean, 95% CI"),
        Line2D([], [], marker="o", linestyle="", mfc="none", mec="0.2", label="single seeds"),
    ]
    if shown_baseline is not None:
        handles.append(Line2D([], [], color=colours[1], linestyle="--", label="baseline mean"))
    figure.legend(handles=handles, loc="outside lower center", ncol=3, frameon=False)
    axis.set_title(
        f"{title}, best at the top\n"
        "marker: mean over seeds, line: 95% CI (Student t over seeds), hollow dots: single seeds"
        "\nright: mean [95% CI], n = successful seeds"
        + (f"\n{textwrap.fill(f'({note})', 120)}" if note else ""),
        fontsize="medium",
    )
    _save(figure, path)
    return {
        "cells": cells,
        "mean": table["mean"].tolist(),
        "low": table["low"].tolist(),
        "high": table["high"].tolist(),
        "n": table["n"].astype(int).tolist(),
        "baseline": shown_baseline,
        "baseline_mean": baseline_mean,
        "note": note,
    }


def factor_effects(runs: pd.DataFrame, factors: Sequence[str], path: str | Path) -> dict[str, Any]:
    """Mean test accuracy at each level of each factor, pooled over the other factors and seeds.

    The interval is the 95 % t-interval over the pooled runs (all cells at that level).

    Returns ``{"factors": [...], "table": DataFrame(factor, level, mean, low, high, n)}``.
    """
    title = "Effect of each factor"
    ok = _ok_runs(runs)
    factors = [f for f in factors if f in ok.columns]
    columns = ["factor", "level", "mean", "low", "high", "n"]
    if not factors or ok.empty:
        message = "no factors declared" if not factors else "no successful runs"
        _placeholder(path, title, message)
        return {"factors": factors, "table": pd.DataFrame(columns=columns)}
    ok[factors] = ok[factors].astype(str)
    _theme()
    widths = [max(2.6, 1.3 * ok[f].nunique()) for f in factors]
    figure, axes = plt.subplots(
        1,
        len(factors),
        figsize=(sum(widths) + 1.2, 4.4),
        sharey=True,
        squeeze=False,
        layout="constrained",
        gridspec_kw={"width_ratios": widths},
    )
    colour = _colours(3)[2]
    tables = []
    for axis, factor, width in zip(axes[0], factors, widths, strict=True):
        table = _summarise(ok, [factor], "test_accuracy").rename(columns={factor: "level"})
        order = {level: i for i, level in enumerate(_levels(ok, factor))}
        table = table.sort_values("level", key=lambda c: c.map(order)).reset_index(drop=True)
        x = np.arange(len(table))
        errors = np.vstack([table["mean"] - table["low"], table["high"] - table["mean"]])
        axis.errorbar(
            x,
            table["mean"],
            yerr=np.nan_to_num(errors),
            color=colour,
            marker="o",
            markersize=8,
            capsize=5,
            linewidth=1.8,
        )
        axis.set_xticks(
            x, [f"{lv}\n(n={n})" for lv, n in zip(table["level"], table["n"], strict=True)]
        )
        _tilt_if_crowded(axis, list(table["level"]), width)
        axis.set_xlim(-0.5, len(table) - 0.5)
        _accuracy_limits(axis)
        axis.set(xlabel=f"level of '{factor}'", ylabel="mean test accuracy (fraction correct)")
        tables.append(table.assign(factor=factor))
    _suptitle(
        figure,
        f"{title}: mean test accuracy per level, pooled over the other factors and seeds\n"
        "bars: 95% CI (Student t over the pooled runs)",
    )
    _save(figure, path)
    return {"factors": factors, "table": pd.concat(tables, ignore_index=True)[columns]}


def interactions(runs: pd.DataFrame, factors: Sequence[str], path: str | Path) -> dict[str, Any]:
    """Interaction plots: for every pair (A, B) of factors, x = levels of A, one line per level
    of B, y = mean test accuracy with its 95 % t-interval over the runs of that (a, b) pair
    (the seeds, pooled over any further factors). Parallel lines = no interaction.

    Returns ``{"pairs": [(A, B), ...], "table": DataFrame(a, b, a_level, b_level, mean, low,
    high, n)}``; with fewer than two factors a text panel is drawn and ``pairs`` is empty.
    """
    title = "Interactions between factors"
    columns = ["a", "b", "a_level", "b_level", "mean", "low", "high", "n"]
    ok = _ok_runs(runs)
    factors = [f for f in factors if f in ok.columns]
    if len(factors) < 2 or ok.empty:
        if len(factors) < 2:
            named = f" ({', '.join(factors)})" if factors else ""
            message = f"interaction plots need at least two factors; this study has {len(factors)}"
            message += named
        else:
            message = "no successful runs"
        _placeholder(path, title, message)
        return {"pairs": [], "table": pd.DataFrame(columns=columns)}
    ok[factors] = ok[factors].astype(str)
    pairs = list(itertools.combinations(factors, 2))

    _theme()
    panel = (6.4, 4.4) if len(pairs) == 1 else (4.8, 4.0)
    figure, axes = _grid(len(pairs), 3, panel, sharey=True)
    tables = []
    for axis, (a, b) in zip(axes, pairs, strict=True):
        a_levels, b_levels = _levels(ok, a), _levels(ok, b)
        table = _summarise(ok, [a, b], "test_accuracy")
        table = table.rename(columns={a: "a_level", b: "b_level"})
        colours = _colours(len(b_levels))
        for index, level in enumerate(b_levels):
            line = table[table["b_level"] == level]
            line = line.assign(x=line["a_level"].map({lv: i for i, lv in enumerate(a_levels)}))
            line = line.sort_values("x")
            offset = (index - (len(b_levels) - 1) / 2) * 0.06  # dodge the error bars
            errors = np.vstack([line["mean"] - line["low"], line["high"] - line["mean"]])
            axis.errorbar(
                line["x"] + offset,
                line["mean"],
                yerr=np.nan_to_num(errors),
                color=colours[index % len(colours)],
                linestyle=LINESTYLES[index % len(LINESTYLES)],
                marker="os^Dv<>p"[index % 8],
                markersize=7,
                capsize=4,
                linewidth=1.8,
                label=level,
            )
        axis.set_xticks(range(len(a_levels)), a_levels)
        _tilt_if_crowded(axis, a_levels, panel[0])
        axis.set_xlim(-0.5, len(a_levels) - 0.5)
        _accuracy_limits(axis)
        axis.set(xlabel=f"level of '{a}'", ylabel="mean test accuracy (fraction correct)")
        axis.set_title(f"{a} x {b}", fontsize="medium")
        axis.legend(
            title=f"level of '{b}'",
            fontsize="small",
            title_fontsize="small",
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
        )
        tables.append(table.assign(a=a, b=b))
    _suptitle(
        figure,
        f"{title}: mean test accuracy\n"
        "bars: 95% CI (Student t over seeds); parallel lines = no interaction",
    )
    _save(figure, path)
    return {"pairs": pairs, "table": pd.concat(tables, ignore_index=True)[columns]}


def heatmap(
    runs: pd.DataFrame,
    factors: Sequence[str],
    path: str | Path,
    *,
    baseline: str | None = None,
) -> dict[str, Any]:
    """Two-factor grids: mean test accuracy of each (level A, level B) cell, annotated with the
    value and the number of successful seeds; the baseline cell (if given) is outlined. Other
    numbers of factors get a placeholder panel (the file is always written).

    Returns ``{"factors": [A, B], "mean": DataFrame (rows: levels of A, columns: levels of B;
    NaN where no seed succeeded), "n": DataFrame of successful seed counts, "baseline":
    (row, column) of the outlined cell or None}``; ``mean`` and ``n`` are None for the
    placeholder.
    """
    title = "Mean test accuracy per cell"
    ok = _ok_runs(runs)
    factors = list(factors)
    if len(factors) != 2:
        message = f"the heatmap needs exactly two factors; this study has {len(factors)}"
    elif not set(factors) <= set(runs.columns):
        message = f"the runs table has no column for {' or '.join(factors)}"
    elif ok.empty:
        message = "no successful runs"
    else:
        message = ""
    if message:
        _placeholder(path, title, message)
        return {"factors": factors, "mean": None, "n": None, "baseline": None}
    a, b = factors
    everything = runs.assign(**{f: runs[f].astype(str) for f in factors})
    ok[factors] = ok[factors].astype(str)
    a_levels, b_levels = _levels(everything, a), _levels(everything, b)
    grouped = ok.groupby([a, b])["test_accuracy"]
    means = grouped.mean().unstack(b).reindex(index=a_levels, columns=b_levels)
    counts = grouped.count().unstack(b).reindex(index=a_levels, columns=b_levels)
    counts = counts.fillna(0).astype(int)
    labels = means.map(lambda v: "" if pd.isna(v) else f"{v:.3f}")
    labels = labels + counts.map(lambda n: f"\nn={n}" if n else "no successful\nrun")
    marked = None
    if baseline is not None:
        match = everything.loc[everything["cell"].astype(str) == baseline, [a, b]]
        if not match.empty:
            marked = (a_levels.index(match.iloc[0][a]), b_levels.index(match.iloc[0][b]))
            labels.iloc[marked] += "\n(baseline)"

    _theme()
    figure, axis = plt.subplots(
        figsize=(3.2 + 1.5 * len(b_levels), 2.0 + 0.95 * len(a_levels)), layout="constrained"
    )
    sns.heatmap(
        means.astype(float),
        annot=labels.to_numpy(),
        fmt="",
        cmap="viridis",
        linewidths=1,
        linecolor="white",
        cbar_kws={"label": "mean test accuracy (fraction correct)"},
        ax=axis,
    )
    axis.set_facecolor("0.9")  # cells without a successful run (seaborn leaves them blank)
    axis.grid(False)
    for (row, column), n in np.ndenumerate(counts.to_numpy()):
        if n == 0:
            text = labels.iat[row, column]
            axis.text(column + 0.5, row + 0.5, text, ha="center", va="center", color="0.3")
    axis.set(xlabel=f"level of '{b}'", ylabel=f"level of '{a}'")
    axis.tick_params(axis="y", rotation=0)
    if marked is not None:
        row, column = marked
        axis.add_patch(Rectangle((column, row), 1, 1, fill=False, edgecolor="#d55e00", lw=3))
    axis.set_title(f"{title} ({a} x {b})\nvalue: mean over seeds, n: successful seeds")
    _save(figure, path)
    return {"factors": factors, "mean": means, "n": counts, "baseline": marked}


# -- confusion matrices and timing ------------------------------------------------------------


def _read_confusion(path: str | Path) -> pd.DataFrame:
    """A confusion matrix with text class names on both axes, columns in the rows' order."""
    matrix = pd.read_csv(path, index_col=0)
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
    ok = _ok_runs(runs)
    ok = ok[[(c, int(s)) in available for c, s in zip(ok["cell"], ok["seed"], strict=True)]]
    result: dict[str, Any] = {"cells": [], "seeds": {}, "accuracy": {}, "classes": {}}
    result["recall"] = {}
    if ok.empty:
        _placeholder(path, title, "no successful run with a confusion matrix")
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

    _theme()
    most = max(result["classes"].values())
    annotate = most <= MAX_ANNOTATED_CLASSES
    side = min(5.5, 2.6 + 0.25 * most) if annotate else 3.4
    figure, axes = _grid(len(matrices), 4, (side, side + _title_height(list(matrices))))
    cmap = "Blues"
    # With many classes most off-diagonal fractions are tiny: a square-root scale shows them.
    norm = Normalize(0, 1) if annotate else PowerNorm(0.5, 0, 1)
    scale = "" if annotate else " (square-root colour scale)"
    for axis, (cell, matrix) in zip(axes, matrices.items(), strict=True):
        _matrix_panel(axis, matrix, cmap, norm)
        axis.set_title(
            f"{_wrap(cell)}\n(seed {result['seeds'][cell]}, acc {result['accuracy'][cell]:.3f})",
            fontsize="small",
        )
    figure.colorbar(  # beside the first row, where the eye starts
        plt.cm.ScalarMappable(norm=norm, cmap=cmap),
        ax=axes[:4],
        shrink=0.9,
        label=f"fraction of the true class's\ntest images{scale}",
    )
    _suptitle(
        figure,
        f"{title}: each cell's best seed by test accuracy\n"
        "rows normalised to 1: diagonal = recall per true class",
    )
    _save(figure, path)
    return result


def timing(runs: pd.DataFrame, path: str | Path) -> dict[str, Any]:
    """Training time per run (s) and training throughput (images/s) per cell.

    Bars are means over successful seeds, dots single seeds; both panels share the cell order
    (the runs table's order, which follows the config).

    Returns ``{"cells": [top to bottom], "seconds": {cell: mean s},
    "images_per_second": {cell: mean images/s}}``.
    """
    title = "Training cost per cell"
    ok = _ok_runs(runs)
    columns = [
        ("train_seconds", "training time per run (s)"),
        ("images_per_second", "training throughput (images/s)"),
    ]
    if ok.empty:
        _placeholder(path, title, "no successful runs")
        return {"cells": [], "seconds": {}, "images_per_second": {}}
    cells = list(pd.unique(ok["cell"]))
    means = ok.groupby("cell", sort=False)[[c for c, _ in columns]].mean()

    _theme()
    height = max(3.0, 1.7 + _cell_height(cells) * len(cells))
    figure, axes = plt.subplots(
        1, 2, figsize=(12, height), sharey=True, squeeze=False, layout="constrained"
    )
    colours = _colours(5)
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
    axes[0][0].set_yticks(positions, [_wrap(c) for c in cells], fontsize="small")
    _suptitle(figure, f"{title}\nbars: mean over successful seeds, dots: single seeds")
    _save(figure, path)
    return {
        "cells": cells,
        "seconds": means["train_seconds"].to_dict(),
        "images_per_second": means["images_per_second"].to_dict(),
    }
