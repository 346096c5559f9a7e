"""Effects of an unreplicated two-level design (one seed per cell) judged by Lenth's
pseudo standard error.

With one seed per cell no cell measures training randomness, but a two-level design of N
cells has N - 1 orthogonal contrasts, and in a screening study most of them are noise
(effect sparsity). Lenth (1989, "Quick and easy analysis of unreplicated factorials",
Technometrics 31:469-473), the standard method for such designs, estimates the contrasts'
common standard error from the contrasts themselves: s0 = 1.5 median |c|, and the pseudo
standard error PSE = 1.5 median of the |c| below 2.5 s0 (the large, active ones left out).
Lenth refers c / PSE to a t distribution with m / 3 degrees of freedom; here its exact
distribution under independent normal errors is simulated once per number of contrasts m
(Ye & Hamada 2000, "Critical values of the Lenth method for unreplicated factorial
designs", J. Quality Technology 32:57-66), from which p-values and the interval come.

Any orthonormal basis of the contrasts has the same null distribution, so the test is valid
whatever the design (a regular fraction, a full grid, a Plackett-Burman screen); the basis
starts with the main-effect columns and continues with products of two, three, ... factors,
so a term's own contrast is one of the m that the PSE is taken from.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from ablate.results.intervals import ALPHA
from ablate.results.verdicts import (
    BETTER,
    NO_DIFFERENCE,
    UNDECIDED,
    WORSE,
    Comparison,
    holm_adjusted,
)

MIN_CELLS = 8  # 7 contrasts: the smallest design Lenth's method is used for
REPLICATES = 40_000  # simulated null sets of contrasts per m


def contrast_basis(signs: np.ndarray) -> np.ndarray:
    """cells x m: an orthonormal basis of every contrast the design can estimate
    (orthogonal to the mean), the main-effect columns first, then products of 2, 3, ...
    factors in order, each orthogonalised against those before (Gram-Schmidt); columns
    that add nothing (aliased with earlier ones or with the mean) are dropped."""
    runs, factors = signs.shape
    basis = [np.full(runs, 1 / math.sqrt(runs))]
    for size in range(1, factors + 1):
        for chosen in itertools.combinations(range(factors), size):
            column = np.prod(signs[:, list(chosen)], axis=1).astype(float)
            spanned = np.column_stack(basis)
            column -= spanned @ (spanned.T @ column)
            norm = np.linalg.norm(column)
            if norm > 1e-9 * math.sqrt(runs):
                basis.append(column / norm)
            if len(basis) == runs:
                return np.column_stack(basis[1:])
    return np.column_stack(basis[1:]) if len(basis) > 1 else np.empty((runs, 0))


def pseudo_standard_error(contrasts: np.ndarray) -> np.ndarray:
    """Lenth's PSE of each row of ``contrasts`` (or of a 1-d array of them)."""
    absolute = np.abs(np.atleast_2d(contrasts))
    s0 = 1.5 * np.median(absolute, axis=1, keepdims=True)
    inliers = np.where(absolute < 2.5 * s0, absolute, np.nan)
    with warnings.catch_warnings():  # a row of zeros has no inliers: PSE nan, read as 0
        warnings.simplefilter("ignore", RuntimeWarning)
        pse = 1.5 * np.nanmedian(inliers, axis=1)
    return np.nan_to_num(pse)


@lru_cache(maxsize=64)
def null_ratios(contrasts: int) -> np.ndarray:
    """Sorted |c_j| / PSE(c) over REPLICATES sets of ``contrasts`` independent standard
    normal contrasts: the exact null distribution of Lenth's statistic (Ye & Hamada 2000),
    every contrast of a set counted (they are exchangeable)."""
    draws = np.random.default_rng(1989).standard_normal((REPLICATES, contrasts))
    return np.sort((np.abs(draws) / pseudo_standard_error(draws)[:, None]).ravel())


def p_value(ratio: float, contrasts: int) -> float:
    """P(|c| / PSE >= ratio) under the null, with the simulation's +1 correction."""
    ratios = null_ratios(contrasts)
    above = len(ratios) - np.searchsorted(ratios, ratio, side="left")
    return float((1 + above) / (1 + len(ratios)))


@lru_cache(maxsize=64)
def critical_ratio(contrasts: int, alpha: float = ALPHA) -> float:
    """The 1 - alpha quantile of |c| / PSE: Lenth's margin of error in units of PSE."""
    ratios = null_ratios(contrasts)
    return float(ratios[math.ceil((1 - alpha) * len(ratios)) - 1])


def judge(
    signs: np.ndarray,
    accuracies: np.ndarray,
    weights: Sequence[np.ndarray],
    bounds: Sequence[tuple[float, float]],
    min_effect: float,
    holm: bool = True,
) -> tuple[list[Comparison], str]:
    """Verdicts on the terms whose contrasts over the cells are ``weights`` (each a vector
    over the rows of ``signs``, summing to 0), from the cells' one-seed ``accuracies``.

    A term's standard error is the PSE scaled to its contrast's length; its interval is
    estimate +/- the critical ratio times that, cut to its ``bounds``; its p-value is the
    simulated one, Holm-adjusted over the terms when ``holm``. With one seed there is no
    probability of improvement (nan): significance alone decides."""
    runs = len(accuracies)
    basis = contrast_basis(signs)
    m = basis.shape[1]
    # Effect scale: a +-1 column's contrast (2 / N) s.y equals (2 / sqrt N) q.y.
    pse = float(pseudo_standard_error(2 / math.sqrt(runs) * basis.T @ accuracies)[0])
    if pse == 0:
        reason = ("one seed per cell, and most of the design's contrasts are exactly 0 "
                  "(Lenth's pseudo standard error is 0): add seeds")  # fmt: skip
        return [_undecided(w @ accuracies, reason) for w in weights], (
            "Lenth's pseudo standard error is 0: no verdicts"
        )
    critical = critical_ratio(m)
    found = []
    for weight, (low_bound, high_bound) in zip(weights, bounds, strict=True):
        estimate = float(weight @ accuracies)
        se = pse * math.sqrt(runs) / 2 * float(np.linalg.norm(weight))
        found.append((estimate, max(estimate - critical * se, low_bound),
                      min(estimate + critical * se, high_bound),
                      p_value(abs(estimate) / se, m)))  # fmt: skip
    raw = [p for *_, p in found]
    adjusted = holm_adjusted(raw) if holm and len(found) > 1 else np.asarray(raw)
    results = [
        _verdict(estimate, low, high, p, float(q) if holm else None, min_effect)
        for (estimate, low, high, p), q in zip(found, adjusted, strict=True)
    ]
    rule = (f"Lenth's pseudo standard error ({m} contrasts of {runs} one-seed cells), "
            + (f"Holm over {len(found)} effects (5 % study-wide)" if holm and len(found) > 1
               else "5 % per effect"))  # fmt: skip
    return results, rule


def _verdict(estimate: float, low: float, high: float, p: float, adjusted: float | None,
             min_effect: float) -> Comparison:  # fmt: skip
    decisive = p if adjusted is None else adjusted
    if -min_effect <= low and high <= min_effect:
        verdict, reason = NO_DIFFERENCE, f"the whole interval lies within +/- {min_effect:g}"
    elif decisive < ALPHA:
        verdict = BETTER if estimate > 0 else WORSE
        reason = f"Lenth p = {decisive:.2g} (one seed per cell; the design's other contrasts "
        reason += "measure the noise)"
    else:
        verdict, reason = UNDECIDED, f"Lenth p = {decisive:.2g}: add seeds or runs"
    return Comparison(1, estimate, low, high, p, math.nan, verdict, reason, None,
                      p_adjusted=adjusted)  # fmt: skip


def _undecided(estimate: float, reason: str) -> Comparison:
    return Comparison(1, float(estimate), math.nan, math.nan, math.nan, math.nan, UNDECIDED,
                      reason, None)  # fmt: skip
