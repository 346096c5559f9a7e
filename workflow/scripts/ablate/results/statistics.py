"""Statistics over seeds: intervals per cell, paired comparisons, factorial effects.

Every seed trains on the same data split, so runs of different cells with the same seed are
paired: comparisons are computed per seed and the seeds are the replicates. Only successful runs
(``status.ok``) with a value for the metric count. Intervals are Student's t intervals with n - 1
degrees of freedom; with fewer than two values the spread, interval and p-value are NaN instead
of an error or a warning, so a one-seed smoke study still aggregates.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import stats

from ablate import status

CONFIDENCE = 0.95
ALPHA = 0.05  # "significant" means p < ALPHA

# Per-run values summarised over seeds in summary.csv.
METRICS = ("test_accuracy", "test_loss", "test_macro_f1", "best_epoch", "train_seconds",
           "images_per_second")  # fmt: skip
COMPARISON_COLUMNS = ["n_pairs", "difference", "ci_low", "ci_high", "p_value",
                      "effect_size_dz", "significant"]  # fmt: skip
# effects.csv (factor_effects) and level_means.csv (level_means): one row per term.
EFFECT_COLUMNS = ["term", "factor_a", "level_a", "factor_b", "level_b", "reference",
                  "n_seeds", "estimate", "ci_low", "ci_high", "p_value"]  # fmt: skip
MEAN_COLUMNS = ["term", "factor_a", "level_a", "factor_b", "level_b", "n_seeds", "mean",
                "ci_low", "ci_high"]  # fmt: skip

# Spreads below this (relative to the values' size, at least 1) are floating-point rounding,
# e.g. per-seed differences 0.52 - 0.50 and 0.62 - 0.60: treated as zero so that a constant
# difference gets no p-value instead of a spurious p ~ 0 and a scipy precision warning.
_ROUNDING = 1e-12


class MeanCI(NamedTuple):
    """Mean, sample standard deviation, count and t interval of some values."""

    mean: float
    std: float
    n: int
    ci_low: float
    ci_high: float


def _finite(values: ArrayLike) -> np.ndarray:
    array = np.asarray(values, dtype=float).ravel()
    return array[~np.isnan(array)]


def _constant(values: np.ndarray) -> bool:
    scale = max(1.0, float(np.max(np.abs(values))))
    return float(np.ptp(values)) <= _ROUNDING * scale


def mean_ci(values: ArrayLike, confidence: float = CONFIDENCE) -> MeanCI:
    """Mean with a two-sided t interval; NaNs are ignored, n < 2 gives NaN std and interval."""
    x = _finite(values)
    n = int(x.size)
    if n == 0:
        return MeanCI(math.nan, math.nan, 0, math.nan, math.nan)
    mean = float(x.mean())
    if n < 2:
        return MeanCI(mean, math.nan, n, math.nan, math.nan)
    std = 0.0 if _constant(x) else float(x.std(ddof=1))
    half = float(stats.t.ppf((1 + confidence) / 2, n - 1)) * std / math.sqrt(n)
    return MeanCI(mean, std, n, mean - half, mean + half)


def _p_value(values: ArrayLike) -> float:
    """Two-sided one-sample t-test against 0; NaN where the test is undefined (n < 2, no spread)."""
    x = _finite(values)
    if x.size < 2 or _constant(x):
        return math.nan
    return float(stats.ttest_1samp(x, 0.0).pvalue)


def _cells(runs: pd.DataFrame) -> list:
    return list(pd.unique(runs["cell"]))


def _cell_levels(runs: pd.DataFrame, factors: Sequence[str]) -> pd.DataFrame:
    """Each cell's factor levels, indexed by cell, in first-appearance order."""
    return runs.drop_duplicates("cell").set_index("cell")[list(factors)]


def _by_seed(runs: pd.DataFrame, metric: str) -> pd.DataFrame:
    """The metric as seed x cell; NaN where a run failed, is missing or has no value."""
    ok = status.ok(runs)
    table = ok[ok[metric].notna()].pivot(index="seed", columns="cell", values=metric)
    return table.reindex(columns=_cells(runs)).astype(float)


def _factor_columns(runs: pd.DataFrame) -> list[str]:
    """The factor columns of an aggregated runs table: those between "cell" and "seed"."""
    columns = list(runs.columns)
    if "cell" not in columns or "seed" not in columns:
        return []
    return columns[columns.index("cell") + 1 : columns.index("seed")]


def cell_statistics(
    runs: pd.DataFrame, factors: Sequence[str], metrics: Sequence[str] = METRICS
) -> pd.DataFrame:
    """Per cell (first-appearance order): successful and failed runs, and mean, std and t
    interval over seeds of each metric."""
    factors = list(factors)
    columns = ["cell", *factors, "n", "failed"]
    for metric in metrics:
        columns += [f"{metric}_{stat}" for stat in ("mean", "std", "ci_low", "ci_high")]
    rows = []
    for cell, group in runs.groupby("cell", sort=False):
        good = status.ok(group)
        row = {"cell": cell, **group.iloc[0][factors].to_dict()}
        row["n"] = len(good)
        row["failed"] = len(group) - len(good)
        for metric in metrics:
            summary = mean_ci(good[metric])
            row[f"{metric}_mean"] = summary.mean
            row[f"{metric}_std"] = summary.std
            row[f"{metric}_ci_low"] = summary.ci_low
            row[f"{metric}_ci_high"] = summary.ci_high
        rows.append(row)
    return pd.DataFrame(rows, columns=columns)


def compare_with_baseline(
    runs: pd.DataFrame,
    baseline: str,
    metric: str = "test_accuracy",
    factors: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Each other cell minus the baseline, paired by seed: mean difference, t interval,
    two-sided paired t-test and Cohen's d_z. Only seeds where both runs succeeded pair up
    (none when the design leaves the baseline cell out).

    ``factors`` defaults to the columns between "cell" and "seed", as the aggregate step writes.
    """
    factors = _factor_columns(runs) if factors is None else list(factors)
    cells = _cells(runs)
    levels = _cell_levels(runs, factors)
    table = _by_seed(runs, metric)
    if baseline not in table:  # a list design without the baseline: nothing pairs up
        table[baseline] = math.nan
    rows = []
    for cell in cells:
        if cell == baseline:
            continue
        differences = (table[cell] - table[baseline]).dropna().to_numpy()
        summary = mean_ci(differences)
        p_value = _p_value(differences)
        usable = summary.n >= 2 and summary.std > 0
        rows.append(
            {
                "cell": cell,
                **levels.loc[cell].to_dict(),
                "n_pairs": summary.n,
                "difference": summary.mean,
                "ci_low": summary.ci_low,
                "ci_high": summary.ci_high,
                "p_value": p_value,
                "effect_size_dz": summary.mean / summary.std if usable else math.nan,
                "significant": bool(p_value < ALPHA),  # NaN compares False
            }
        )
    frame = pd.DataFrame(rows, columns=["cell", *factors, *COMPARISON_COLUMNS])
    return frame.astype({"n_pairs": int, "significant": bool})


def _full_grid(
    runs: pd.DataFrame, factors: Sequence[str]
) -> tuple[pd.DataFrame, dict[str, list]] | None:
    """The cells' levels and each factor's levels when the cells are every combination of the
    levels that appear (exactly once each); otherwise None, as effects would be confounded."""
    if not factors or runs.empty:
        return None
    cells = _cell_levels(runs, factors)
    levels = {factor: list(pd.unique(cells[factor])) for factor in factors}
    expected = math.prod(len(values) for values in levels.values())
    combinations = set(cells.itertuples(index=False, name=None))
    if len(cells) != expected or len(combinations) != expected:
        return None
    return cells, levels


def _complete_seeds(runs: pd.DataFrame, metric: str) -> pd.DataFrame:
    """seed x cell for the seeds where every cell succeeded, so every per-seed contrast is
    computed over the same, balanced set of cells."""
    return _by_seed(runs, metric).dropna()


def _with_levels(cells: pd.DataFrame, fixed: Mapping[str, str]) -> pd.Index:
    """The cells that have the given levels."""
    mask = np.logical_and.reduce([cells[factor] == level for factor, level in fixed.items()])
    return cells.index[mask]


def _cell_mean(table: pd.DataFrame, cells: pd.DataFrame, fixed: Mapping[str, str]) -> np.ndarray:
    """Per seed: mean over the cells with the given levels, equal weight per cell."""
    return table.loc[:, _with_levels(cells, fixed)].mean(axis=1).to_numpy()


def _effect_row(term: str, a: tuple, b: tuple, reference: str, per_seed: np.ndarray) -> dict:
    summary = mean_ci(per_seed)
    return {
        "term": term,
        "factor_a": a[0],
        "level_a": a[1],
        "factor_b": b[0],
        "level_b": b[1],
        "reference": reference,
        "n_seeds": summary.n,
        "estimate": summary.mean,
        "ci_low": summary.ci_low,
        "ci_high": summary.ci_high,
        "p_value": _p_value(per_seed),
    }


def factor_effects(
    runs: pd.DataFrame,
    factors: Sequence[str],
    baseline_levels: Mapping[str, str],
    metric: str = "test_accuracy",
) -> pd.DataFrame:
    """Main effects and two-factor interactions of a full-factorial grid, against the baseline
    levels, estimated per seed and summarised over seeds (t interval, one-sample t-test).

    Main effect of A=a: marginal mean over cells with A=a minus that with A=a0. Interaction of
    (A=a, B=b): m(a,b) - m(a,b0) - m(a0,b) + m(a0,b0), averaging over any other factors. Empty
    (with the columns) when there are no factors, the grid is not full or it lacks a baseline
    level. For main effects factor_b and level_b are None.
    """
    factors = list(factors)
    grid = _full_grid(runs, factors)
    if grid is None:
        return pd.DataFrame(columns=EFFECT_COLUMNS)
    cells, levels = grid
    if any(baseline_levels.get(factor) not in levels[factor] for factor in factors):
        # A list design without the baseline's levels: no reference to measure from.
        return pd.DataFrame(columns=EFFECT_COLUMNS)
    table = _complete_seeds(runs, metric)

    def mean(fixed: Mapping[str, str]) -> np.ndarray:
        return _cell_mean(table, cells, fixed)

    rows = []
    none = (None, None)
    for factor in factors:
        base = baseline_levels[factor]
        for level in levels[factor]:
            if level == base:
                continue
            per_seed = mean({factor: level}) - mean({factor: base})
            reference = f"vs {factor}={base}"
            rows.append(_effect_row("main", (factor, level), none, reference, per_seed))
    for factor_a, factor_b in itertools.combinations(factors, 2):
        base_a, base_b = baseline_levels[factor_a], baseline_levels[factor_b]
        reference = f"interaction vs {factor_a}={base_a}, {factor_b}={base_b}"
        for level_a in levels[factor_a]:
            for level_b in levels[factor_b]:
                if level_a == base_a or level_b == base_b:
                    continue
                per_seed = (
                    mean({factor_a: level_a, factor_b: level_b})
                    - mean({factor_a: level_a, factor_b: base_b})
                    - mean({factor_a: base_a, factor_b: level_b})
                    + mean({factor_a: base_a, factor_b: base_b})
                )
                a, b = (factor_a, level_a), (factor_b, level_b)
                rows.append(_effect_row("interaction", a, b, reference, per_seed))
    return pd.DataFrame(rows, columns=EFFECT_COLUMNS).astype({"n_seeds": int})


def level_means(
    runs: pd.DataFrame, factors: Sequence[str], metric: str = "test_accuracy"
) -> pd.DataFrame:
    """Mean of the metric at each level of each factor (term "level") and at each pair of
    levels of two factors that some cell has (term "pair"): per seed the mean over the cells
    with those levels, equal weight per cell, summarised over the seeds where all of them
    succeeded (t interval). A pair of a two-factor study is one cell: its mean is the cell's.
    Outside a full grid the levels are confounded with the other factors': descriptive only.
    For "level" rows factor_b and level_b are empty.
    """
    factors = list(factors)
    if not factors or runs.empty:
        return pd.DataFrame(columns=MEAN_COLUMNS)
    cells = _cell_levels(runs, factors)
    table = _by_seed(runs, metric)
    levels = {factor: list(pd.unique(cells[factor])) for factor in factors}
    terms = [("level", {factor: level}) for factor in factors for level in levels[factor]]
    for factor_a, factor_b in itertools.combinations(factors, 2):
        for level_a, level_b in itertools.product(levels[factor_a], levels[factor_b]):
            terms.append(("pair", {factor_a: level_a, factor_b: level_b}))
    rows = []
    for term, fixed in terms:
        chosen = _with_levels(cells, fixed)
        if chosen.empty:  # a combination the design leaves out
            continue
        summary = mean_ci(table.loc[:, chosen].dropna().mean(axis=1))
        (factor_a, level_a), (factor_b, level_b) = [*fixed.items(), (None, None)][:2]
        rows.append(
            {
                "term": term,
                "factor_a": factor_a,
                "level_a": level_a,
                "factor_b": factor_b,
                "level_b": level_b,
                "n_seeds": summary.n,
                "mean": summary.mean,
                "ci_low": summary.ci_low,
                "ci_high": summary.ci_high,
            }
        )
    return pd.DataFrame(rows, columns=MEAN_COLUMNS).astype({"n_seeds": int})
