"""Seed variances that borrow strength across a study.

At two or three seeds a comparison's own seed-to-seed variance rests on one or two degrees
of freedom, so its t quantile is large (12.7 at one) and almost nothing is decided. But
every cell of a study trains on the same data with the same seeds and scores the same test
images, and their seed variances are alike: a study is a randomised complete block design,
cells as treatments and seeds as blocks (Montgomery, "Design and Analysis of Experiments",
ch. 4). Its residual mean square, over the cells x seeds table of per-seed accuracies after
removing each cell's and each seed's mean, is the study's pooled variance of one run about
its cell and seed, with (cells - 1)(seeds - 1) degrees of freedom, each cell's residuals
taken on its binomial scale p(1 - p) (``variance_function``); a contrast of cells with
weights w has per-seed variance sum w_c^2 p_c(1 - p_c) times that dispersion. This is
the error term of Dunnett's (1955) many-to-one comparisons in such a design. Each
comparison's own paired variance is moderated toward it as in limma's moderated t (Smyth
2004, "Linear models and empirical Bayes methods for assessing differential expression"):
(d0 s0^2 + d s^2) / (d0 + d), the pool as the prior with its own degrees of freedom as d0
(and as the result's: the comparison's runs are in the pool already). limma's own fit of
d0 (``fitFDist``) assumes independent variances, and the comparisons of one study all share
the baseline's runs, which made it overstate the prior's weight (more than 5 % A/A false
verdicts, bench/calibration.py).

A cell that diverges (its seeds spread far more than the others') must neither lend its
spread to the calm cells nor borrow a calm variance it does not have, as in the robust
moderation of Phipson et al. (2016, "Robust hyperparameter estimation protects against
hypervariable genes"). Divergent cells are found on a robust fit, so that two of them
cannot hide each other or smear their spread over every cell through the seed means (as a
least-squares fit does: one bad seed of one cell moves that seed's mean for all): Tukey's
median polish (1977, "Exploratory Data Analysis", ch. 11) of the cells x seeds table, and a
cell diverges where its sum of squared residuals over the median of those sums is beyond
what tables of equal spreads exceed with chance OUTLIER (simulated once per table shape).
Those cells leave the pool, the least-squares residual mean square is taken over the rest,
and their comparisons keep their own variance (an exact paired t test). A cell that
diverges too little to be told at two seeds still weighs in with its own variance; the
false-verdict rate with such a cell, and with such a baseline, is measured in
bench/calibration.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

# With two cells the pooled variance is the one comparison's own: nothing to borrow.
MIN_CELLS = 3
# A cell whose residual share is beyond this upper tail (shared by the cells that could
# leave) leaves the pool.
OUTLIER = 0.05
SIMULATED_TABLES = 4000  # null tables per shape for the divergence limit
MIN_SPREAD = 1e-3  # p(1 - p) of a cell at 0.999


@dataclass(frozen=True)
class Prior:
    """The study's pooled variance of one run about its cell and seed (``variance``, at the
    pooled cells' mean variance function), with ``df`` degrees of freedom, from ``cells``
    cells, and each row's variance function p(1 - p) (``spread``); ``NONE``: nothing
    pooled."""

    variance: float
    df: float
    cells: int
    left_out: tuple[int, ...] = ()  # rows of the table that diverged and left the pool
    spread: tuple[float, ...] = ()  # each row's p(1 - p), relative to the pool's mean

    def relative(self, weights: np.ndarray) -> float:
        """A contrast's pooled per-seed variance in units of ``variance``: sum w_c^2 v_c
        (2 for one typical cell against another)."""
        return float(np.sum(np.asarray(weights) ** 2 * np.asarray(self.spread)))

    def describe(self) -> str:
        if self.df == 0 and self.left_out:
            return (f"each comparison's own seed variance ({len(self.left_out)} divergent "
                    "cells left too few to pool)")  # fmt: skip
        if self.df == 0:
            return "each comparison's own seed variance (too few cells or seeds to pool)"
        diverged = f", {len(self.left_out)} divergent cell(s) left out" if self.left_out else ""
        return (f"seed variance moderated toward the study's pooled one ({self.cells} cells, "
                f"{self.df:g} df{diverged}; scaled by each cell's p(1 - p))")  # fmt: skip


NONE = Prior(math.nan, 0.0, 0)


def _fit(per_seed: np.ndarray) -> tuple[float, float]:
    """Least squares: the residual mean square over each row's p(1 - p) (the dispersion,
    times the rows' mean p(1 - p)) and its degrees of freedom."""
    residual = (per_seed - per_seed.mean(axis=1, keepdims=True)
                - per_seed.mean(axis=0, keepdims=True) + per_seed.mean())  # fmt: skip
    cells, seeds = per_seed.shape
    df = (cells - 1) * (seeds - 1)
    spread = variance_function(per_seed)
    dispersion = float((residual**2 / spread[:, None]).sum() / df)
    return dispersion * float(spread.mean()), float(df)


def median_polish(table: np.ndarray, sweeps: int = 10) -> np.ndarray:
    """The residuals of Tukey's median polish of a two-way table (or of a stack of them,
    the last two axes): row and column medians swept out in turn (exact at once for two
    columns)."""
    residual = np.asarray(table, dtype=float)
    residual = residual - np.median(residual, axis=(-2, -1), keepdims=True)
    for _ in range(sweeps):
        residual = residual - np.median(residual, axis=-1, keepdims=True)
        residual = residual - np.median(residual, axis=-2, keepdims=True)
    return residual


def variance_function(per_seed: np.ndarray) -> np.ndarray:
    """Each row's p(1 - p) at its mean accuracy p (floored: a cell at 0 or 1 still has
    some): the binomial variance function of quasi-likelihood (McCullagh & Nelder 1989,
    "Generalized Linear Models", ch. 9). A cell's seed-to-seed spread grows with it as its
    accuracy falls from 1 toward 0.5, so cells are pooled on that scale (as limma-trend
    moderates toward a mean-dependent prior: Law et al. 2014)."""
    mean = np.clip(np.mean(per_seed, axis=-1), 0.0, 1.0)
    return np.maximum(mean * (1 - mean), MIN_SPREAD)


def _ratios(per_seed: np.ndarray, scaled: bool = True) -> np.ndarray:
    """Each row's sum of squared median-polish residuals (over its p(1 - p) when
    ``scaled``) over the median of those sums."""
    shares = (median_polish(per_seed) ** 2).sum(axis=-1)
    if scaled:
        shares = shares / variance_function(per_seed)
    with np.errstate(divide="ignore", invalid="ignore"):
        return shares / np.median(shares, axis=-1, keepdims=True)


@lru_cache(maxsize=128)
def divergence_limit(cells: int, seeds: int, keep: bool) -> float:
    """The upper OUTLIER point of the largest candidate row's ratio (``_ratios``) in tables
    of independent normal runs of equal spread, simulated once per shape: under equal
    spreads a study loses a calm cell at most that often."""
    draws = np.random.default_rng(2016).standard_normal((SIMULATED_TABLES, cells, seeds))
    ratios = _ratios(draws, scaled=False)  # equal spreads: one scale for every row
    return float(np.quantile(ratios[:, int(keep) :].max(axis=1), 1 - OUTLIER))


def divergent(per_seed: np.ndarray, keep: int | None = None) -> tuple[int, ...]:
    """Rows whose spread about a robust additive fit is beyond ``divergence_limit`` (never
    row ``keep``, and none in a table of MIN_CELLS rows or fewer)."""
    cells, seeds = per_seed.shape
    ratios = _ratios(per_seed)
    if cells <= MIN_CELLS or not np.isfinite(ratios).all():  # most rows exactly additive
        return ()
    candidates = [row for row in range(cells) if row != keep]
    # rows are exchangeable under equal spreads: which one is kept does not matter
    limit = divergence_limit(cells, seeds, keep is not None)
    return tuple(row for row in candidates if ratios[row] > limit)


def block_prior(per_seed: np.ndarray, keep: int | None = None) -> Prior:
    """The pooled variance of a cells x seeds table of per-seed accuracies (every cell at
    the same seeds): the residual mean square of the two-way additive fit, without the
    cells that diverge (never row ``keep``, the baseline's, which every comparison has);
    nothing pooled if fewer than MIN_CELLS cells are left."""
    per_seed = np.asarray(per_seed, dtype=float)
    cells, seeds = per_seed.shape if per_seed.ndim == 2 else (0, 0)
    if cells < MIN_CELLS or seeds < 2:
        return NONE
    left_out = divergent(per_seed, keep)
    rows = [row for row in range(cells) if row not in left_out]
    if len(rows) < MIN_CELLS:
        return Prior(math.nan, 0.0, 0, left_out)
    variance, df = _fit(per_seed[rows])
    spread = variance_function(per_seed)
    relative = tuple(float(v) for v in spread / spread[rows].mean())
    return Prior(variance, df, len(rows), left_out, relative)


def borrowed(own: float, own_df: float, prior: Prior, weight: float) -> tuple[float, float]:
    """A contrast's per-seed variance and its degrees of freedom: its ``own`` variance
    (``own_df`` df) moderated toward the pooled variance times the contrast's squared
    weights ``weight`` (|w|^2), the pool counting as ``prior.df`` degrees of freedom: Smyth's
    (2004) posterior variance (d0 s0^2 + d s^2) / (d0 + d). Its degrees of freedom are the
    pool's, not d0 + d as in limma: the comparison's own runs are part of the pool already
    (counting them twice put the A/A false verdicts of six real cells above 5 %)."""
    if prior.df == 0 or not math.isfinite(own):
        return own, own_df
    pooled = weight * prior.variance
    return (prior.df * pooled + own_df * own) / (prior.df + own_df), prior.df
