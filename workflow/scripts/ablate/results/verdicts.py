"""Uncertainty over seeds AND test images, and calibrated verdicts.

Every run of a study scores the same test images, so a cell is a matrix of per-image
outcomes: seeds x images (1 = right, 0 = wrong; for a factor level, the mean over its
cells). Two sources of noise make an accuracy uncertain: training randomness (seed-to-seed
spread) and the finite test set (another sample of images gives another accuracy; Jordan
2023, "Calibrated chaos", shows how much of the seed-to-seed spread is runs flipping on a
few borderline images).

Per cell, ablate.results.intervals gives the interval of its accuracy and macro F1.

A comparison (``compare``) is a difference of means over seeds and images, paired by seed:
the same seed gives every cell the same initial weights and data order, so two cells' runs
at one seed are correlated, and the spread of the per-seed difference is smaller than the
two sides' spreads added (on the seed bank 3.6 times). Its variance is the per-seed
difference's seed-to-seed variance over the seeds (never taken below what independent
per-image flips of the difference give, which guards two-seed estimates that are small by
chance), moderated toward the study's pooled variance where the study has enough cells
(ablate.results.moderation: a randomised block design's residual mean square, Smyth 2004's
moderated variance), plus the test set's own part (the image-level variance of the
per-image mean difference, less its seed noise), combined with Welch-Satterthwaite degrees
of freedom (Satterthwaite 1946). A paired test is valid whatever the correlation: a change
that shares less through the seed (an architecture) only gains less. The verdict follows
Bouthillier et al. 2021 ("Accounting for variance in machine learning benchmarks"): decide
only when the difference is significant AND the probability of improvement P(X > Y)
(Agarwal et al. 2021, rliable; the Mann-Whitney statistic over pairs of runs) is at least
0.75; "no difference" when the whole interval lies within +/- min_effect. One seed cannot
measure training randomness, so a one-seed comparison stays undecided and says so (its
p-value is the test images' alone: Dietterich 1998's McNemar case; a two-level design's
effects are the exception, ablate.results.lenth). Seed advice is the power analysis of
Colas et al. 2018 ("How many random seeds?"), with t quantiles. The comparisons of one
study with its baseline (and, separately, its effects) are one family: ``holm`` adjusts
their p-values so that the chance of any false verdict in the family is at most ALPHA.

The false-verdict rate is measured on real runs (bench/seed_bank.py, bench/calibration.py;
docs/benchmarks.md) and on simulated ones (tests/test_verdicts.py): at most 5 % at 1, 2, 3,
5 and 10 seeds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace

import numpy as np
from scipy import stats

from ablate.results.intervals import ALPHA, flips  # ALPHA: the significance level
from ablate.results.moderation import NONE, Prior, borrowed

POWER = 0.8
# Bouthillier et al. 2021: a difference counts when P(A > B) is at least this.
MIN_PROBABILITY_OF_IMPROVEMENT = 0.75
BETTER, WORSE, NO_DIFFERENCE, UNDECIDED = "better", "worse", "no difference", "undecided"
MANY_SEEDS = 100  # seed advice beyond this says "more than", not a number nobody will train


@dataclass(frozen=True)
class Comparison:
    """A paired contrast (e.g. a cell minus the baseline) over shared seeds and images."""

    seeds: int
    difference: float
    ci_low: float
    ci_high: float
    p_value: float
    probability_of_improvement: float
    verdict: str
    reason: str
    seeds_needed: int | None  # for an undecided comparison: seeds for 80 % power
    # For an undecided look of an adaptive study: the chance that its last look decides it
    # if the difference stays what it is (``conditional_power``).
    conditional_power: float | None = None
    # The p-value adjusted for the study's other comparisons (``holm``); None: not adjusted.
    p_adjusted: float | None = None
    seed_df: float = math.nan  # degrees of freedom of the seed part (own + borrowed)
    advice_seeds: int | None = None  # seeds for 80 % power, whatever the verdict

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class _Variance:
    total: float  # variance of the mean difference
    df: float  # Welch-Satterthwaite degrees of freedom
    per_seed: float  # variance of one seed's difference (one run of each side)
    floor: float  # what more seeds cannot remove: the test set's own part
    seed_df: float = math.nan  # degrees of freedom of ``per_seed`` (own + borrowed)
    seeds: int = 0


def seed_spread(scores: np.ndarray, reference: np.ndarray) -> float:
    """The seed-to-seed variance of the per-seed paired difference (seeds - 1 degrees of
    freedom), never below what independent per-image flips of the difference give: a
    spread over two or three seeds is often small by chance, and images rarely flip
    against each other. NaN for fewer than two seeds."""
    scores = np.asarray(scores, dtype=np.float64)
    contrast = scores - np.asarray(reference, dtype=np.float64)
    if contrast.shape[0] < 2:
        return math.nan
    return max(float(contrast.mean(axis=1).var(ddof=1)), flips(contrast))


def _variance(
    scores: np.ndarray, reference: np.ndarray, prior: Prior = NONE, weight: float = 2.0
) -> _Variance:
    """Variance of the mean paired difference, as the sum of two parts:

    * training randomness: the variance of the per-seed difference (``seed_spread``),
      moderated toward the study's pooled one (``prior`` times the contrast's squared
      weights ``weight``: 2 for a cell minus the baseline; ablate.results.moderation), over
      the number of seeds;
    * the test set: the image-level variance of the per-image mean difference, less the
      part of it that is seed noise already counted above (the difference's own per-image
      flips; n - 1 images' worth of df).

    The bank of real runs in bench/ showed that per-image flips explain only part of the
    seed-to-seed spread (whole-model shifts are real), so the seed part is measured over
    seeds, not inferred from the images; docs/benchmarks.md has the calibration.
    """
    seeds, images = scores.shape
    contrast = scores - reference
    if not contrast.any():  # the same outcome on every image in every run: identical models
        return _Variance(0.0, math.inf, 0.0, 0.0, seeds=seeds)
    across_images = contrast.mean(axis=0).var(ddof=1) / images if images > 1 else 0.0
    if seeds < 2:  # no seed spread to measure: the test images alone (McNemar-like)
        return _Variance(across_images, max(images - 1, 1), math.nan, across_images, seeds=1)
    own = seed_spread(scores, reference)
    per_seed, seed_df = borrowed(own, seeds - 1, prior, weight)
    seed_part = per_seed / seeds
    test_set = max(across_images - flips(contrast) / seeds, 0.0)
    total = seed_part + test_set
    parts = seed_part**2 / seed_df + test_set**2 / max(images - 1, 1)
    df = total**2 / parts if parts > 0 else math.inf
    return _Variance(total, df, per_seed, test_set, seed_df, seeds)


def probability_of_improvement(scores: np.ndarray, reference: np.ndarray) -> float:
    """P(X > Y) for a run X of the cell and a run Y of the reference, ties counting half
    (rliable's probability of improvement: the Mann-Whitney U statistic over all pairs)."""
    scores, reference = np.asarray(scores), np.asarray(reference)
    u = stats.mannwhitneyu(scores, reference, alternative="two-sided").statistic
    return float(u / (len(scores) * len(reference)))


def compare(
    scores: np.ndarray,
    reference: np.ndarray,
    min_effect: float,
    bounds: tuple[float, float] = (-1.0, 1.0),
    alpha: float = ALPHA,
    last_look: tuple[int, float] | None = None,
    prior: Prior = NONE,
    weight: float = 2.0,
) -> Comparison:
    """Verdict on ``scores`` against ``reference``: both seeds x images per-image outcomes
    with rows paired by seed and columns by image (for a factor level, the mean over the
    cells at that level). The interval is cut to ``bounds``, the values the difference can
    take at all (a difference of two accuracies lies in [-1, 1]). ``alpha`` is the
    significance level of this look (smaller at the early looks of an adaptive study,
    ablate.results.sequential; the interval is then the wider repeated interval), and
    ``last_look`` its (seeds, level) at the last look, for the conditional power of an
    undecided comparison; ``prior`` the study's pooled seed variance
    (ablate.results.moderation.block_prior) and ``weight`` the contrast's squared weights
    in units of single cells (2 for one cell against another)."""
    scores = np.asarray(scores, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    seeds = scores.shape[0]
    difference = float((scores - reference).mean())
    variance = _variance(scores, reference, prior, weight)
    se = math.sqrt(variance.total)
    if se > 0:
        quantile = stats.t.ppf(1 - alpha / 2, variance.df)
        p_value = float(2 * stats.t.sf(abs(difference) / se, variance.df))
    else:  # every image the same way in every run: no uncertainty left in this contrast
        quantile, p_value = 0.0, float(difference == 0)
    low = max(difference - quantile * se, bounds[0])
    high = min(difference + quantile * se, bounds[1])
    improvement = probability_of_improvement(scores.mean(axis=1), reference.mean(axis=1))
    verdict, reason = decide(seeds, difference, low, high, p_value, improvement, min_effect,
                             alpha)  # fmt: skip
    needed = seeds_needed(variance, min_effect)
    power = None
    if last_look is not None and verdict == UNDECIDED:
        power = conditional_power(variance, difference, seeds, *last_look)
    return Comparison(seeds, difference, low, high, p_value, improvement, verdict, reason,
                      needed if verdict == UNDECIDED else None, power, seed_df=variance.seed_df,
                      advice_seeds=needed)  # fmt: skip


def conditional_power(
    variance: _Variance, difference: float, seeds: int, last_seeds: int, last_alpha: float
) -> float | None:
    """The chance that the comparison, grown to ``last_seeds`` seeds, is significant at
    ``last_alpha`` if the true difference is the one seen now: stochastic curtailment under
    the current trend (Lan, Simon & Halperin 1982; Jennison & Turnbull 2000, ch. 10). The
    seeds to come add their seed noise; the test images, and so their part of the
    uncertainty, stay the same. None where it cannot be told (one seed, no seeds to come)."""
    if seeds < 2 or last_seeds <= seeds or not math.isfinite(variance.per_seed):
        return None
    last_se = math.sqrt(variance.per_seed / last_seeds + variance.floor)
    threshold = float(stats.norm.isf(last_alpha / 2)) * last_se
    spread = math.sqrt((last_seeds - seeds) * variance.per_seed) / last_seeds
    size = abs(difference)
    if spread == 0:
        return float(size > threshold)
    return float(stats.norm.sf((threshold - size) / spread)
                 + stats.norm.cdf((-threshold - size) / spread))  # fmt: skip


def decide(
    seeds: int,
    difference: float,
    low: float,
    high: float,
    p_value: float,
    improvement: float,
    min_effect: float,
    alpha: float = ALPHA,
) -> tuple[str, str]:
    """The verdict and its reason (Bouthillier et al. 2021's rule, plus an equivalence
    margin: 'no difference' when the whole interval lies within +/- ``min_effect``)."""
    if seeds < 2:
        return UNDECIDED, (
            "one seed: training randomness cannot be told from a real difference "
            "(add seeds; the p-value is McNemar-like, test images only)"
        )
    if -min_effect <= low and high <= min_effect:
        return NO_DIFFERENCE, f"the whole interval lies within +/- {min_effect:g}"
    if p_value < alpha:
        if difference > 0 and improvement >= MIN_PROBABILITY_OF_IMPROVEMENT:
            return BETTER, f"p = {p_value:.2g}, P(improvement) = {improvement:.2f}"
        if difference < 0 and improvement <= 1 - MIN_PROBABILITY_OF_IMPROVEMENT:
            return WORSE, f"p = {p_value:.2g}, P(improvement) = {improvement:.2f}"
        return UNDECIDED, f"significant, but P(improvement) = {improvement:.2f} is not decisive"
    if alpha != ALPHA:  # an early look of an adaptive study: a stricter threshold
        return UNDECIDED, f"p = {p_value:.2g}, not below this look's threshold {alpha:.2g}"
    return UNDECIDED, f"p = {p_value:.2g}: the interval holds both signs and large differences"


def seeds_needed(variance: _Variance, min_effect: float, power: float = POWER) -> int | None:
    """Seeds per cell that would tell a difference of ``min_effect`` at ``power`` (two-sided
    t test at ALPHA; Colas et al. 2018), with the degrees of freedom n seeds would have
    (their own n - 1 plus what the study lends now). None when even infinitely many seeds
    would not: the test set's own noise is too large, and only more test images help;
    MANY_SEEDS + 1 for "more than MANY_SEEDS"."""
    if not math.isfinite(variance.per_seed) or variance.seeds < 2:
        return None
    lent = max(variance.seed_df - (variance.seeds - 1), 0.0)  # by the study's pooling

    def enough(seeds: int) -> bool:
        df = seeds - 1 + lent
        se = math.sqrt(variance.per_seed / seeds + variance.floor)
        return se * (stats.t.ppf(1 - ALPHA / 2, df) + stats.t.ppf(power, df)) <= min_effect

    normal = min_effect / (stats.norm.ppf(1 - ALPHA / 2) + stats.norm.ppf(power))
    room = normal**2 - variance.floor
    if room <= 0:
        return None
    # t quantiles exceed normal ones, so the normal answer is where the search starts
    seeds = max(2, math.ceil(variance.per_seed / room))
    while seeds <= MANY_SEEDS and not enough(seeds):
        seeds += 1
    return seeds if seeds <= MANY_SEEDS else MANY_SEEDS + 1


def holm_adjusted(p_values: Sequence[float]) -> np.ndarray:
    """Holm's adjusted p-values: the i-th smallest times (m - i + 1), made monotone, at
    most 1. The same as statsmodels' ``multipletests(method="holm")`` (tests/
    test_moderation.py checks it), which runs a full garbage collection on every call:
    tens of milliseconds, too slow for the calibration benchmark's thousands of studies."""
    p_values = np.asarray(p_values, dtype=float)
    order = np.argsort(p_values)
    scaled = p_values[order] * (len(p_values) - np.arange(len(p_values)))
    adjusted = np.empty_like(p_values)
    adjusted[order] = np.minimum(np.maximum.accumulate(scaled), 1.0)
    return adjusted


def holm(comparisons: Sequence[Comparison], min_effect: float,
         alpha: float = ALPHA) -> list[Comparison]:  # fmt: skip
    """The comparisons of one family with Holm-adjusted p-values and the verdicts they give.

    Holm's step-down (1979) keeps the chance of any false 'better' or 'worse' in the family
    at most ``alpha`` whatever the dependence between the comparisons, which share the
    baseline's runs, and on any valid p-values, as these paired, pooled, Satterthwaite
    ones; Dunnett's many-to-one test (scipy) would need independent groups with one pooled
    variance and cannot pair by seed. Comparisons without a p-value (one seed, identical
    runs) are not counted. The intervals stay the per-comparison 95 % ones."""
    counted = [index for index, c in enumerate(comparisons)
               if c.seeds > 1 and math.isfinite(c.p_value)]  # fmt: skip
    adjusted = list(comparisons)
    if not counted:
        return adjusted
    p_values = holm_adjusted([comparisons[i].p_value for i in counted])
    for index, p in zip(counted, p_values, strict=True):
        c = comparisons[index]
        verdict, reason = decide(c.seeds, c.difference, c.ci_low, c.ci_high, float(p),
                                 c.probability_of_improvement, min_effect, alpha)  # fmt: skip
        if verdict == UNDECIDED and c.verdict != UNDECIDED:
            reason = (f"p = {c.p_value:.2g} alone, Holm-adjusted {p:.2g} over "
                      f"{len(counted)} comparisons")  # fmt: skip
        elif reason.startswith("p = "):  # the p-value it was taken on is the adjusted one
            reason = "Holm-adjusted " + reason
        needed = c.advice_seeds if verdict == UNDECIDED else None
        adjusted[index] = replace(c, verdict=verdict, reason=reason, p_adjusted=float(p),
                                  seeds_needed=needed)  # fmt: skip
    return adjusted
