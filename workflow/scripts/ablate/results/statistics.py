"""Statistics per cell and against the baseline.

Every seed trains on the same data split and every run scores the same test images, so runs
of different cells pair up by seed and by image. Only successful runs (``status.ok``) count.
Test accuracy and macro F1 get intervals over seeds AND test images, and comparisons with the
baseline get verdicts (ablate.results.verdicts); the other per-run values (loss, best epoch,
time, throughput) get their range over seeds (min and max): a t interval over two or three
seeds is mostly width (t = 12.7 at two) and leaves what the value can take (a negative
loss or time, an epoch past the last).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import stats

from ablate import status
from ablate.results import moderation
from ablate.results.intervals import cell_interval, macro_f1_interval
from ablate.results.outcomes import Outcomes
from ablate.results.verdicts import ALPHA, MANY_SEEDS, UNDECIDED, Comparison, compare, holm

HOLM, NO_ADJUSTMENT = "holm", "none"  # checks.multiplicity

CONFIDENCE = 0.95

# Per-run values summarised over seeds in summary.csv: with a 95 % interval (in [0, 1]) ...
INTERVAL_METRICS = ("test_accuracy", "test_macro_f1")
# ... or with their range over seeds
RANGE_METRICS = ("test_loss", "best_epoch", "train_seconds", "images_per_second")
METRICS = (*INTERVAL_METRICS, *RANGE_METRICS)
COMPARISON_COLUMNS = ["n_pairs", "difference", "ci_low", "ci_high", "p_value", "p_adjusted",
                      "prob_improvement", "verdict", "verdict_reason", "seeds_needed",
                      "conditional_power", "seed_df", "rule"]  # fmt: skip

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


def _cells(runs: pd.DataFrame) -> list:
    return list(pd.unique(runs["cell"]))


def cell_levels(runs: pd.DataFrame, factors: Sequence[str]) -> pd.DataFrame:
    """Each cell's factor levels, indexed by cell, in first-appearance order."""
    return runs.drop_duplicates("cell").set_index("cell")[list(factors)]


def _factor_columns(runs: pd.DataFrame) -> list[str]:
    """The factor columns of an aggregated runs table: those between "cell" and "seed"."""
    columns = list(runs.columns)
    if "cell" not in columns or "seed" not in columns:
        return []
    return columns[columns.index("cell") + 1 : columns.index("seed")]


def cell_statistics(
    runs: pd.DataFrame, factors: Sequence[str], metrics: Sequence[str] = METRICS
) -> pd.DataFrame:
    """Per cell (first-appearance order): how many of its seeds succeeded (``n``), failed
    and have no result yet, and mean and std over seeds of each metric, with a t interval
    over seeds cut to [0, 1] for accuracy and F1 (``with_test_set_intervals`` replaces it
    by the one over seeds and images) and the range over seeds for the others."""
    factors = list(factors)
    columns = ["cell", *factors, "n", "failed", "not_run"]
    for metric in metrics:
        ends = ("ci_low", "ci_high") if metric in INTERVAL_METRICS else ("min", "max")
        columns += [f"{metric}_{stat}" for stat in ("mean", "std", *ends)]
    rows = []
    for cell, group in runs.groupby("cell", sort=False):
        good = status.ok(group)
        row = {"cell": cell, **group.iloc[0][factors].to_dict()}
        row["n"] = len(good)
        row["failed"] = int((group["status"] == status.FAILED).sum())
        row["not_run"] = int((group["status"] == status.NOT_RUN).sum())
        for metric in metrics:
            summary = mean_ci(good[metric])
            row[f"{metric}_mean"] = summary.mean
            row[f"{metric}_std"] = summary.std
            if metric in INTERVAL_METRICS:  # proportions: the interval stays in [0, 1]
                row[f"{metric}_ci_low"] = max(summary.ci_low, 0.0)
                row[f"{metric}_ci_high"] = min(summary.ci_high, 1.0)
            else:
                values = _finite(good[metric])
                row[f"{metric}_min"] = values.min() if values.size else math.nan
                row[f"{metric}_max"] = values.max() if values.size else math.nan
        rows.append(row)
    return pd.DataFrame(rows, columns=columns)


def with_test_set_intervals(summary: pd.DataFrame, outcomes: Outcomes) -> pd.DataFrame:
    """``summary`` with the intervals of test accuracy and macro F1 that account for both
    seeds and test images (crossed variance components, ablate.results.intervals) instead of the t
    interval over seeds, and a note where one seed gives the test-set interval only."""
    summary = summary.copy()
    summary["test_interval_note"] = ""
    for index, cell in summary["cell"].items():
        seeds = outcomes.seeds(cell)
        if not seeds:
            continue
        accuracy = cell_interval(outcomes.correct(cell, seeds))
        true = np.tile(outcomes.true, (len(seeds), 1))
        f1 = macro_f1_interval(true, outcomes.predictions(cell, seeds), len(outcomes.classes))
        for metric, found in (("test_accuracy", accuracy), ("test_macro_f1", f1)):
            summary.loc[index, [f"{metric}_ci_low", f"{metric}_ci_high"]] = found.low, found.high
        summary.loc[index, "test_interval_note"] = accuracy.note
    return summary


def family(
    pairs: Sequence[tuple[np.ndarray, np.ndarray]],
    min_effect: float,
    multiplicity: str = HOLM,
    block: np.ndarray | None = None,
    weights: Sequence[float] | None = None,
    rows: Sequence[int] | None = None,
    keep: int | None = None,
    alphas: Sequence[float] | None = None,
    last_look: tuple[int, float] | None = None,
    bounds: Sequence[tuple[float, float]] | None = None,
) -> tuple[list[Comparison], str]:
    """One family's comparisons (``pairs`` of seeds x images outcomes, paired by row and
    column), each with its seed variance moderated toward the study's pooled one
    (ablate.results.moderation), then, under ``multiplicity`` "holm", the verdicts of a
    study-wide 5 % false-verdict rate (ablate.results.verdicts.holm).

    ``block`` is the cells x seeds table of per-seed accuracies that is pooled,
    ``weights`` each contrast's weights on the block's rows (or its squared weights in
    units of a typical cell: 2 for one cell against another), ``rows``
    the block's row of each comparison's cell (a comparison keeps its own variance if its
    cell diverged and left the pool) and ``keep`` the baseline's row, which never leaves
    it. ``alphas`` gives each comparison's own level (an adaptive study's looks, not
    adjusted further). Returns the comparisons and the rule that decided them, in words."""
    prior = moderation.NONE if block is None else moderation.block_prior(block, keep)

    def weight(index: int) -> float:  # the contrast's pooled variance in the pool's units
        if prior.df == 0:
            return 2.0
        if weights is not None and np.ndim(weights[index]) == 1:
            return prior.relative(weights[index])
        if weights is None and rows is not None and keep is not None:
            contrast = np.zeros(len(prior.spread))
            contrast[[rows[index], keep]] = [1.0, -1.0]
            return prior.relative(contrast)
        return float(weights[index]) if weights is not None else 2.0

    results = [
        compare(scores, reference, min_effect,
                bounds=bounds[index] if bounds else (-1.0, 1.0),
                alpha=alphas[index] if alphas else ALPHA, last_look=last_look,
                prior=moderation.NONE if rows and rows[index] in prior.left_out else prior,
                weight=weight(index))
        for index, (scores, reference) in enumerate(pairs)
    ]  # fmt: skip
    pooling = prior.describe()
    if alphas is not None:
        return results, f"each look's group-sequential level, not adjusted across cells; {pooling}"
    if multiplicity == HOLM and len(pairs) > 1:
        results = holm(results, min_effect)
        counted = sum(r.p_adjusted is not None for r in results)
        return results, f"Holm over {counted} comparisons (5 % study-wide); {pooling}"
    return results, f"5 % per comparison; {pooling}"


def per_seed_table(outcomes: Outcomes, cells: Sequence[str]) -> np.ndarray | None:
    """cells x seeds: each cell's accuracy per seed, over the seeds every one of ``cells``
    finished (the block design the pooled variance is taken from); None without two."""
    shared = sorted(set.intersection(*(set(outcomes.seeds(cell)) for cell in cells)))
    if len(shared) < 2:
        return None
    return np.array([outcomes.correct(cell, shared).mean(axis=1) for cell in cells])


def compare_with_baseline(
    runs: pd.DataFrame,
    baseline: str,
    outcomes: Outcomes,
    min_effect: float,
    factors: Sequence[str] | None = None,
    alphas: Mapping[str, float] | None = None,
    last_look: tuple[int, float] | None = None,
    multiplicity: str = HOLM,
) -> pd.DataFrame:
    """Each other cell against the baseline on test accuracy, paired by seed and test image
    over the seeds both finished (none when the design leaves the baseline cell out):
    difference with its interval, p-value (and its Holm-adjusted value), probability of
    improvement, verdict and, for an undecided one, the seeds that would decide it
    (ablate.results.verdicts); the comparisons are one family (``family``), and ``rule``
    says how they were decided.

    ``factors`` defaults to the columns between "cell" and "seed", as the aggregate writes.
    ``alphas`` holds each cell's significance level in an adaptive study: the threshold
    of the look at which it stopped (ablate.results.sequential), ``last_look`` that study's
    (seeds, level) at its last look, for each undecided comparison's conditional power.
    """
    factors = _factor_columns(runs) if factors is None else list(factors)
    levels = cell_levels(runs, factors)
    rows, compared, pairs = [], [], []
    for cell in _cells(runs):
        if cell == baseline:
            continue
        seeds = sorted(set(outcomes.seeds(cell)) & set(outcomes.seeds(baseline)))
        rows.append({"cell": cell, **levels.loc[cell].to_dict(), "n_pairs": len(seeds)})
        if seeds:
            compared.append(len(rows) - 1)
            pairs.append((outcomes.correct(cell, seeds), outcomes.correct(baseline, seeds)))
        else:
            rows[-1].update(verdict=UNDECIDED, verdict_reason="no seed finished in both cells")
    levels_of = [(alphas or {}).get(rows[i]["cell"], ALPHA) for i in compared]
    finished = [cell for cell in _cells(runs) if outcomes.seeds(cell)]
    block = per_seed_table(outcomes, finished) if baseline in finished else None
    rows_of = [finished.index(rows[i]["cell"]) for i in compared]  # compared: they have seeds
    results, rule = family(pairs, min_effect, multiplicity, block=block, rows=rows_of,
                           keep=finished.index(baseline) if block is not None else None,
                           alphas=levels_of if alphas is not None else None,
                           last_look=last_look)  # fmt: skip
    for index, result in zip(compared, results, strict=True):
        rows[index].update(difference=result.difference, ci_low=result.ci_low,
                           ci_high=result.ci_high, p_value=result.p_value,
                           p_adjusted=result.p_adjusted,
                           prob_improvement=result.probability_of_improvement,
                           verdict=result.verdict, verdict_reason=result.reason,
                           seeds_needed=result.seeds_needed,
                           conditional_power=result.conditional_power,
                           seed_df=result.seed_df, rule=rule)  # fmt: skip
    frame = pd.DataFrame(rows, columns=["cell", *factors, *COMPARISON_COLUMNS])
    return frame.astype({"n_pairs": int})


def seed_advice(summary: pd.DataFrame, min_effect: float, test_images: int) -> pd.Series:
    """Per cell whose comparison with the baseline is undecided: how many seeds would
    decide it (Colas et al. 2018), or that seeds alone cannot; empty for the others."""
    points = f"a {min_effect * 100:g}-point difference"
    advice = pd.Series("", index=summary.index, dtype=object)
    for index, row in summary.iterrows():
        if row["baseline"] or row["vs_baseline_verdict"] != UNDECIDED:
            continue
        needed = row["vs_baseline_seeds_needed"]
        if row["vs_baseline_n_pairs"] < 2:
            advice[index] = "needs at least 2 seeds in both cells to be decided"
        elif pd.notna(needed) and needed > MANY_SEEDS:
            advice[index] = f"more than {MANY_SEEDS} seeds would be needed to tell {points}"
        elif pd.notna(needed):
            advice[index] = f"about {int(needed)} seeds would tell {points}"
        else:
            advice[index] = (
                f"no number of seeds tells {points} on {test_images} test images; "
                "only a larger test split can"
            )
    return advice


def family_rule(summary: pd.DataFrame) -> str:
    """How the summary's verdicts were decided, in words (the same for every comparison)."""
    rules = summary.get("vs_baseline_rule", pd.Series(dtype=object)).dropna().unique()
    return str(rules[0]) if len(rules) else "no comparison with the baseline"


def verdict_lines(summary: pd.DataFrame) -> list[str]:
    """'cell: verdict, difference [interval], P(improvement); advice' per compared cell,
    and in an adaptive study why it got no more seeds."""
    lines = []
    for row in summary[~summary["baseline"].astype(bool)].itertuples():
        if pd.isna(row.vs_baseline_difference):
            lines.append(f"{row.cell} vs baseline: {row.vs_baseline_verdict} "
                         f"({row.vs_baseline_verdict_reason})")  # fmt: skip
            continue
        text = (
            f"{row.cell} vs baseline: {row.vs_baseline_verdict}, "
            f"{row.vs_baseline_difference:+.3f} [{row.vs_baseline_ci_low:+.3f}, "
            f"{row.vs_baseline_ci_high:+.3f}], P(improvement) "
            f"{row.vs_baseline_prob_improvement:.2f}"
        )
        text += f"; {row.vs_baseline_advice}" if row.vs_baseline_advice else ""
        # An adaptive study: why the cell got no more seeds.
        lines.append(text + (f" [{row.stopped_because}]" if "stopped_because" in summary else ""))
    return lines
