"""Seed variances that borrow strength across a study.

At two or three seeds a comparison's own seed-to-seed variance rests on one or two degrees
of freedom, so its t quantile is large (12.7 at one) and almost nothing is decided. But
every cell of a study trains on the same data with the same seeds and scores the same test
images, and their seed variances are alike: a study is a randomised complete block design,
cells as treatments and seeds as blocks (Montgomery, "Design and Analysis of Experiments",
ch. 4). Its residual mean square, over the cells x seeds table of per-seed accuracies after
removing each cell's and each seed's mean, is the study's pooled variance of one run about
its cell and seed, with (cells - 1)(seeds - 1) degrees of freedom; a contrast of cells with
weights w has per-seed variance |w|^2 times it (2 for a cell against the baseline). This is
the error term of Dunnett's (1955) many-to-one comparisons in such a design, and the limit
of empirical-Bayes moderation (Smyth 2004, limma) when the variances agree: limma's own
fit of the prior (``fitFDist``) assumes independent variances, and the comparisons of one
study all share the baseline's runs, which made it overstate the prior's weight (more than
5 % A/A false verdicts, bench/calibration.py).

A cell that diverges (its seeds spread far more than the others') must neither lend its
spread to the calm cells nor borrow a calm variance it does not have, as in the robust
moderation of Phipson et al. (2016, "Robust hyperparameter estimation protects against
hypervariable genes"): a cell whose share of the residual sum of squares is an outlier
(F test against the other cells', at OUTLIER shared among them) leaves the pool, which is fitted again without
it, and its comparison keeps its own variance; and any comparison whose own paired
variance exceeds the pooled one keeps its own, with its own degrees of freedom (an exact
paired t test). Wherever the own variance is the smaller, the pooled test is the usual one,
so under equal spreads the rule is at most as often significant as the pooled test; its
false-verdict rate with a divergent cell, and with a divergent baseline, is measured in
bench/calibration.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from scipy import stats

# With two cells the pooled variance is the one comparison's own: nothing to borrow.
MIN_CELLS = 3
# A cell whose residual share the others' put beyond this upper tail (shared by the cells
# that could leave) leaves the pool.
OUTLIER = 0.05


@dataclass(frozen=True)
class Prior:
    """The study's pooled variance of one run about its cell and seed (``variance``), with
    ``df`` degrees of freedom, from ``cells`` cells; ``NONE``: nothing pooled."""

    variance: float
    df: float
    cells: int
    left_out: tuple[int, ...] = ()  # rows of the table that diverged and left the pool

    def describe(self) -> str:
        if self.df == 0:
            return "each comparison's own seed variance (too few cells or seeds to pool)"
        diverged = f", {len(self.left_out)} divergent cell(s) left out" if self.left_out else ""
        return (f"seed variance pooled over the study's {self.cells} cells ({self.df:g} df"
                f"{diverged}; a comparison whose own spread is larger keeps its own)")  # fmt: skip


NONE = Prior(math.nan, 0.0, 0)


def _fit(per_seed: np.ndarray) -> tuple[float, float, np.ndarray]:
    """Residual mean square, its df and each cell's residual sum of squares."""
    residual = (per_seed - per_seed.mean(axis=1, keepdims=True)
                - per_seed.mean(axis=0, keepdims=True) + per_seed.mean())  # fmt: skip
    cells, seeds = per_seed.shape
    df = (cells - 1) * (seeds - 1)
    return float((residual**2).sum() / df), float(df), (residual**2).sum(axis=1)


def block_prior(per_seed: np.ndarray, keep: int | None = None) -> Prior:
    """The pooled variance of a cells x seeds table of per-seed accuracies (every cell at
    the same seeds): the residual mean square of the two-way additive fit, without the
    cells that diverge (never row ``keep``, the baseline's, which every comparison has)."""
    per_seed = np.asarray(per_seed, dtype=float)
    cells, seeds = per_seed.shape if per_seed.ndim == 2 else (0, 0)
    if cells < MIN_CELLS or seeds < 2:
        return NONE
    rows = list(range(cells))
    while True:
        variance, df, shares = _fit(per_seed[rows])
        # each cell's share has about (seeds - 1)(cells - 1)/cells df under equal spreads
        own_df = (seeds - 1) * (len(rows) - 1) / len(rows)
        candidates = [i for i, row in enumerate(rows) if row != keep]
        worst = max(candidates, key=lambda i: shares[i])
        rest = (shares.sum() - shares[worst]) / (own_df * (len(rows) - 1))
        if len(rows) <= MIN_CELLS or rest <= 0:
            break
        tail = stats.f.sf(shares[worst] / own_df / rest, own_df, own_df * (len(rows) - 1))
        if tail >= OUTLIER / len(candidates):  # the largest of them: Bonferroni
            break
        rows.pop(worst)
    left_out = tuple(row for row in range(cells) if row not in rows)
    return Prior(variance, df, len(rows), left_out)


def borrowed(own: float, own_df: float, prior: Prior, weight: float) -> tuple[float, float]:
    """A contrast's per-seed variance and its degrees of freedom: the pooled variance
    times the contrast's squared weights ``weight`` (|w|^2), unless its ``own`` variance
    is larger, which it then keeps with ``own_df``."""
    if prior.df == 0 or not math.isfinite(own):
        return own, own_df
    pooled = weight * prior.variance
    return (own, own_df) if own > pooled else (pooled, prior.df)
