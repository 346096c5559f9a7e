"""How the factors act: main effects (effects.csv), interaction plots (level_means.csv) and
the two-factor heatmap (summary.csv). Nothing is estimated here; every number is a table's."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.patches import Rectangle

from ablate.results.figures import style

DRAWN_COLUMNS = ["factor_a", "level_a", "estimate", "ci_low", "ci_high"]
COMPARED_COLUMNS = ["cell", "estimate", "ci_low", "ci_high"]


def factor_effects(effects: pd.DataFrame, summary: pd.DataFrame, path: str | Path) -> dict:
    """effects.csv's main effects, one panel per factor: each level's estimate with its 95 %
    interval, measured from the baseline level (the zero line); effects without an estimate
    (no seed on which every cell succeeded) are left out. Designs without main effects
    (not a full factorial) draw summary.csv's paired difference of each cell from the
    baseline instead, or say that there is nothing to compare.

    Returns ``{"kind": "main" | "vs_baseline" | None, "table": DataFrame}``, the table read
    back from the drawn points and interval lines (see ``drawn_effects``).
    """
    title = "Effect of each factor on test accuracy"
    main = effects[(effects["term"] == "main") & effects["estimate"].notna()]
    if not main.empty:
        return {"kind": "main", "table": _main_effects(main, path, title)}
    compared = summary[~summary["baseline"].astype(bool)]
    compared = compared[compared["vs_baseline_difference"].notna()]
    if not compared.empty:
        return {"kind": "vs_baseline", "table": _versus_baseline(compared, path)}
    style.placeholder(
        path,
        title,
        "no main effects (the design is not a full factorial)\n"
        "and no cell pairs up with the baseline: nothing to compare",
    )
    return {"kind": None, "table": pd.DataFrame(columns=DRAWN_COLUMNS)}


def drawn_effects(drawn: dict[str, Any]) -> pd.DataFrame:
    """What ``factor_effects`` drew, read back from the figure: for main effects one row per
    level in effects.csv's columns (factor_a, level_a, estimate, ci_low, ci_high), in drawing
    order, equal to effects.csv's "main" rows that have an estimate; for the other designs
    cell, estimate, ci_low, ci_high (summary.csv's vs_baseline_difference and interval)."""
    return drawn["table"].reset_index(drop=True)


def _main_effects(main: pd.DataFrame, path: str | Path, title: str) -> pd.DataFrame:
    factors = list(pd.unique(main["factor_a"]))
    widths = [max(2.6, 1.3 * (main["factor_a"] == f).sum()) for f in factors]
    style.theme()
    figure, axes = plt.subplots(
        1,
        len(factors),
        figsize=(sum(widths) + 1.2, 4.4),
        sharey=True,
        squeeze=False,
        layout="constrained",
        gridspec_kw={"width_ratios": widths},
    )
    colour = style.colours(3)[2]
    drawn = []
    for axis, factor, width in zip(axes[0], factors, widths, strict=True):
        rows = main[main["factor_a"] == factor]
        levels = rows["level_a"].astype(str).tolist()
        x = np.arange(len(rows), dtype=float)
        axis.axhline(0.0, color="0.35", linestyle="--", linewidth=1.2)
        bars = axis.vlines(x, rows["ci_low"], rows["ci_high"], color=colour, linewidth=2.2)
        (points,) = axis.plot(x, rows["estimate"], "o", color=colour, markersize=8, mec="k")
        drawn.append(_read_back(points, bars, "y", {"factor_a": factor, "level_a": levels}))
        ticks = [f"{lv}\n(n={n})" for lv, n in zip(levels, rows["n_seeds"], strict=True)]
        axis.set_xticks(x, ticks)
        style.tilt_if_crowded(axis, levels, width)
        axis.set_xlim(-0.6, len(rows) - 0.4)
        axis.set_xlabel(f"level of '{factor}'")
        axis.set_title(str(rows["reference"].iloc[0]), fontsize="medium")
    axes[0][0].set_ylabel("difference in mean test accuracy")
    style.suptitle(
        figure,
        f"{title}: main effects (effects.csv), each level minus the baseline level,\n"
        "averaged over the other factors; bars: 95% CI over seeds, n: seeds",
    )
    style.save(figure, path)
    return pd.concat(drawn, ignore_index=True)[DRAWN_COLUMNS]


def _versus_baseline(compared: pd.DataFrame, path: str | Path) -> pd.DataFrame:
    cells = compared["cell"].astype(str).tolist()
    style.theme()
    height = max(3.0, 1.8 + style.cell_height(cells) * len(cells))
    figure, axis = plt.subplots(figsize=(9, height), layout="constrained")
    colour = style.colours(3)[2]
    y = np.arange(len(cells), dtype=float)[::-1]
    axis.axvline(0.0, color="0.35", linestyle="--", linewidth=1.2)
    low, high = compared["vs_baseline_ci_low"], compared["vs_baseline_ci_high"]
    bars = axis.hlines(y, low, high, color=colour, linewidth=2.2)
    difference = compared["vs_baseline_difference"]
    (points,) = axis.plot(difference, y, "o", color=colour, markersize=8, mec="k")
    table = _read_back(points, bars, "x", {"cell": cells})
    labels = [
        f"{style.wrap(c)}\n(n={n})"
        for c, n in zip(cells, compared["vs_baseline_n_pairs"].astype(int), strict=True)
    ]
    axis.set_yticks(y, labels, fontsize="small")
    axis.set_ylim(-0.6, len(cells) - 0.4)
    axis.set_xlabel("difference in test accuracy from the baseline (paired by seed)")
    axis.grid(axis="y", visible=False)
    style.suptitle(
        figure,
        "No main effects: the design is not a full factorial. Instead, each cell minus the "
        "baseline,\npaired by seed (summary.csv); bars: 95% CI, n: paired seeds",
    )
    style.save(figure, path)
    return table[COMPARED_COLUMNS]


def _read_back(points, bars, value_axis: str, labels: dict[str, Any]) -> pd.DataFrame:
    """The estimates and intervals as drawn: the points' coordinates and the bars' ends (a
    bar without ends, where the interval is undefined, reads back as NaN)."""
    values = points.get_ydata() if value_axis == "y" else points.get_xdata()
    column = 1 if value_axis == "y" else 0
    ends = [
        segment[:, column] if np.size(segment) else (np.nan, np.nan)
        for segment in bars.get_segments()
    ]
    ends = np.array(ends, dtype=float).reshape(-1, 2)
    return pd.DataFrame({**labels, "estimate": values, "ci_low": ends[:, 0], "ci_high": ends[:, 1]})


def interactions(level_means: pd.DataFrame, factors: Sequence[str], path: str | Path) -> dict:
    """Interaction plots from level_means.csv: for every pair (A, B) of factors, x = levels
    of A, one line per level of B, y = the pair's mean test accuracy with its 95 % interval
    over seeds (averaged over any further factors). Parallel lines = no interaction.

    Returns ``{"pairs": [(A, B), ...], "table": the "pair" rows drawn}``; with fewer than two
    factors a text panel is drawn and ``pairs`` is empty.
    """
    title = "Interactions between factors"
    factors = list(factors)
    pairs = level_means[(level_means["term"] == "pair") & level_means["mean"].notna()]
    if len(factors) < 2 or pairs.empty:
        if len(factors) < 2:
            named = f" ({', '.join(factors)})" if factors else ""
            message = f"interaction plots need at least two factors; this study has {len(factors)}"
            message += named
        else:
            message = "no successful runs"
        style.placeholder(path, title, message)
        return {"pairs": [], "table": pairs}
    order = level_means[level_means["term"] == "level"]
    combos = [pair for pair in itertools.combinations(factors, 2) if _pair(pairs, *pair).any()]

    style.theme()
    panel = (6.4, 4.4) if len(combos) == 1 else (4.8, 4.0)
    figure, axes = style.grid(len(combos), 3, panel, sharey=True)
    for axis, (a, b) in zip(axes, combos, strict=True):
        a_levels = order.loc[order["factor_a"] == a, "level_a"].astype(str).tolist()
        b_levels = order.loc[order["factor_a"] == b, "level_a"].astype(str).tolist()
        table = pairs[_pair(pairs, a, b)]
        colours = style.colours(len(b_levels))
        for index, level in enumerate(b_levels):
            line = table[table["level_b"].astype(str) == level]
            x = line["level_a"].astype(str).map({lv: i for i, lv in enumerate(a_levels)})
            offset = (index - (len(b_levels) - 1) / 2) * 0.06  # dodge the error bars
            errors = np.vstack([line["mean"] - line["ci_low"], line["ci_high"] - line["mean"]])
            axis.errorbar(
                x + offset,
                line["mean"],
                yerr=np.nan_to_num(errors),
                color=colours[index % len(colours)],
                linestyle=style.LINESTYLES[index % len(style.LINESTYLES)],
                marker="os^Dv<>p"[index % 8],
                markersize=7,
                capsize=4,
                linewidth=1.8,
                label=level,
            )
        axis.set_xticks(range(len(a_levels)), a_levels)
        style.tilt_if_crowded(axis, a_levels, panel[0])
        axis.set_xlim(-0.5, len(a_levels) - 0.5)
        style.accuracy_limits(axis)
        axis.set(xlabel=f"level of '{a}'", ylabel="mean test accuracy (fraction correct)")
        axis.set_title(f"{a} x {b}", fontsize="medium")
        axis.legend(
            title=f"level of '{b}'",
            fontsize="small",
            title_fontsize="small",
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
        )
    style.suptitle(
        figure,
        f"{title}: mean test accuracy (level_means.csv)\n"
        "bars: 95% CI (Student t over seeds); parallel lines = no interaction",
    )
    style.save(figure, path)
    drawn = pd.concat([pairs[_pair(pairs, a, b)] for a, b in combos])
    return {"pairs": combos, "table": drawn.reset_index(drop=True)}


def _pair(pairs: pd.DataFrame, a: str, b: str) -> pd.Series:
    return (pairs["factor_a"] == a) & (pairs["factor_b"] == b)


def heatmap(summary: pd.DataFrame, factors: Sequence[str], path: str | Path) -> dict[str, Any]:
    """Two-factor grids: summary.csv's mean test accuracy of each (level A, level B) cell,
    annotated with the value and the number of successful seeds; the baseline cell is
    outlined. Other numbers of factors get a placeholder panel (the file is always written).

    Returns ``{"factors": [A, B], "mean": DataFrame (rows: levels of A, columns: levels of B;
    NaN where no seed succeeded or the design has no such cell), "n": DataFrame of successful
    seed counts, "baseline": (row, column) of the outlined cell or None}``; ``mean`` and ``n``
    are None for the placeholder.
    """
    title = "Mean test accuracy per cell"
    factors = list(factors)
    if len(factors) != 2:
        message = f"the heatmap needs exactly two factors; this study has {len(factors)}"
    elif not set(factors) <= set(summary.columns):
        message = f"the summary has no column for {' or '.join(factors)}"
    elif not (summary["n"] > 0).any():
        message = "no successful runs"
    else:
        message = ""
    if message:
        style.placeholder(path, title, message)
        return {"factors": factors, "mean": None, "n": None, "baseline": None}
    a, b = factors
    cells = summary.assign(**{f: summary[f].astype(str) for f in factors})
    a_levels, b_levels = list(pd.unique(cells[a])), list(pd.unique(cells[b]))
    grid = cells.set_index([a, b])
    means = grid["test_accuracy_mean"].unstack(b).reindex(index=a_levels, columns=b_levels)
    counts = grid["n"].unstack(b).reindex(index=a_levels, columns=b_levels)
    absent = counts.isna()  # level pairs the design leaves out
    counts = counts.fillna(0).astype(int)
    labels = means.map(lambda v: "" if pd.isna(v) else f"{v:.3f}")
    labels = labels + counts.map(lambda n: f"\nn={n}" if n else "no successful\nrun")
    labels = labels.mask(absent, "not in\nthe design")
    marked = None
    baseline = cells[cells["baseline"].astype(bool)]
    if not baseline.empty:
        marked = (a_levels.index(baseline[a].iloc[0]), b_levels.index(baseline[b].iloc[0]))
        labels.iloc[marked] += "\n(baseline)"

    style.theme()
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
    style.save(figure, path)
    return {"factors": factors, "mean": means, "n": counts, "baseline": marked}
