"""Uncertainty over seeds AND test images, and calibrated verdicts.

Every run of a study scores the same test images, so a cell is a matrix of per-image
outcomes: seeds x images (1 = right, 0 = wrong; for a factor level, the mean over its
cells). Two sources of noise make an accuracy uncertain: training randomness (seed-to-seed
spread) and the finite test set (another sample of images gives another accuracy; Jordan
2023, "Calibrated chaos", shows how much of the seed-to-seed spread is runs flipping on a
few borderline images).

Per cell, ``cell_interval`` is the Multi-Bootstrap (Sellam et al. 2022, MultiBERTs):
resample seeds and test images jointly, images paired across seeds, percentile bounds,
never narrower than the Wilson interval of the test set (so never of zero width).

A comparison (``compare``) is a difference of means over seeds and images. Its variance is
each side's seed-to-seed variance over its seeds (Welch; a side's variance is never taken
below what independent per-image flips give, which guards two-seed estimates that are
small by chance) plus the test set's own part (the image-level variance of the paired
per-image difference, less its seed noise), combined with Welch-Satterthwaite degrees of
freedom (Satterthwaite 1946). The verdict follows Bouthillier et al. 2021 ("Accounting
for variance in machine learning benchmarks"): decide only when the difference is
significant AND the probability of improvement P(X > Y) (Agarwal et al. 2021, rliable; the
Mann-Whitney statistic over pairs of runs) is at least 0.75; "no difference" when the whole
interval lies within +/- min_effect. One seed cannot measure training randomness, so a
one-seed comparison stays undecided and says so (its p-value is the test images' alone:
Dietterich 1998's McNemar case). Seed advice is the power analysis of Colas et al. 2018
("How many random seeds?").

The false-verdict rate is measured on real runs (bench/seed_bank.py, bench/calibration.py;
docs/benchmarks.md) and on simulated ones (tests/test_verdicts.py): at most 5 % at 1, 2, 3,
5 and 10 seeds.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy import sparse, stats
from statsmodels.stats.proportion import proportion_confint

ALPHA = 0.05  # significance level; intervals are 1 - ALPHA = 95 %
POWER = 0.8
# Bouthillier et al. 2021: a difference counts when P(A > B) is at least this.
MIN_PROBABILITY_OF_IMPROVEMENT = 0.75
BOOTSTRAP_REPLICATES = 2000
BETTER, WORSE, NO_DIFFERENCE, UNDECIDED = "better", "worse", "no difference", "undecided"


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float
    note: str = ""  # e.g. that one seed gives the test-set interval only


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def _image_weights(rng: np.random.Generator, replicates: int, images: int) -> np.ndarray:
    """How often each test image is drawn in each bootstrap replicate."""
    return rng.multinomial(images, np.full(images, 1 / images), size=replicates)


def cell_interval(
    correct: np.ndarray, *, seed: int = 0, replicates: int = BOOTSTRAP_REPLICATES
) -> Interval:
    """Mean test accuracy over seeds with its two-level bootstrap interval.

    ``correct`` is seeds x images (1 right, 0 wrong). The interval is never narrower than
    the Wilson score interval of the test set (statsmodels), so a cell whose every run got
    every image right still shows the uncertainty that a finite test set leaves; percentile
    bounds of proportions stay inside [0, 1].
    """
    correct = np.asarray(correct, dtype=np.float64)
    seeds, images = correct.shape
    rng = _rng(seed)
    weights = _image_weights(rng, replicates, images)
    per_seed = weights @ correct.T / images  # replicates x seeds
    drawn = rng.integers(seeds, size=(replicates, seeds))
    samples = np.take_along_axis(per_seed, drawn, axis=1).mean(axis=1)
    estimate = float(correct.mean())
    return _bounded(estimate, samples, images, seeds)


def macro_f1_interval(
    true: np.ndarray,
    predicted: np.ndarray,
    classes: int,
    *,
    seed: int = 0,
    replicates: int = BOOTSTRAP_REPLICATES,
) -> Interval:
    """Mean macro F1 over seeds with the same two-level bootstrap (``true`` and
    ``predicted`` are seeds x images class indices)."""
    true, predicted = np.asarray(true), np.asarray(predicted)
    seeds, images = true.shape
    rng = _rng(seed)
    weights = _image_weights(rng, replicates, images)
    per_seed = np.empty((replicates, seeds))
    for run in range(seeds):
        pairs = true[run] * classes + predicted[run]
        onehot = sparse.csr_matrix(
            (np.ones(images), (np.arange(images), pairs)), shape=(images, classes * classes)
        )
        counts = np.asarray((onehot.T @ weights.T).T).reshape(replicates, classes, classes)
        per_seed[:, run] = _macro_f1(counts)
    drawn = rng.integers(seeds, size=(replicates, seeds))
    samples = np.take_along_axis(per_seed, drawn, axis=1).mean(axis=1)
    point = np.mean(
        [_macro_f1(np.bincount(t * classes + p, minlength=classes**2).reshape(1, classes, classes))
         for t, p in zip(true, predicted, strict=True)]
    )  # fmt: skip
    return _bounded(float(point), samples, images, seeds)


def _macro_f1(confusion: np.ndarray) -> np.ndarray:
    """Macro F1 of stacked confusion matrices (rows true, columns predicted); a class
    without true or predicted images scores 0, as scikit-learn's zero_division=0."""
    hits = np.diagonal(confusion, axis1=1, axis2=2)
    denominator = confusion.sum(axis=2) + confusion.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(denominator > 0, 2 * hits / denominator, 0.0)
    return f1.mean(axis=1)


def _bounded(estimate: float, samples: np.ndarray, images: int, seeds: int) -> Interval:
    low, high = np.quantile(samples, [ALPHA / 2, 1 - ALPHA / 2])
    wilson = proportion_confint(round(estimate * images), images, ALPHA, method="wilson")
    note = "" if seeds > 1 else "one seed: test-set uncertainty only"
    return Interval(estimate, float(min(low, wilson[0])), float(max(high, wilson[1])), note)


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

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class _Variance:
    total: float  # variance of the mean difference
    df: float  # Welch-Satterthwaite degrees of freedom
    per_seed: float  # variance of one seed's difference (one run of each side)
    floor: float  # what more seeds cannot remove: the test set's own part


def _flips(outcomes: np.ndarray) -> float:
    """The seed-to-seed variance of a run's mean outcome that independent per-image flips
    alone would give (each image's variance over seeds, summed)."""
    return float(outcomes.var(axis=0, ddof=1).sum()) / outcomes.shape[1] ** 2


def _variance(scores: np.ndarray, reference: np.ndarray) -> _Variance:
    """Variance of the mean paired difference, as the sum of two parts:

    * training randomness: each side's seed-to-seed variance of its mean outcome, over the
      number of seeds (Welch's unequal-variance form, 2 (n - 1) degrees of freedom for two
      sides; a shared seed may correlate the sides, which only makes this conservative);
    * the test set: the image-level variance of the per-image mean difference, less the
      part of it that is seed noise already counted above (n - 1 images' worth of df).

    The bank of real runs in bench/ showed that per-image flips explain only part of the
    seed-to-seed spread (whole-model shifts are real), so the seed part is measured over
    seeds, not inferred from the images; docs/benchmarks.md has the calibration.
    """
    seeds, images = scores.shape
    contrast = scores - reference
    if not contrast.any():  # the same outcome on every image in every run: identical models
        return _Variance(0.0, math.inf, 0.0, 0.0)
    across_images = contrast.mean(axis=0).var(ddof=1) / images if images > 1 else 0.0
    if seeds < 2:  # no seed spread to measure: the test images alone (McNemar-like)
        return _Variance(across_images, max(images - 1, 1), math.nan, across_images)
    # A side's spread over few seeds is often small by chance; it cannot really be below
    # what independent per-image flips give (images rarely flip against each other).
    sides = [max(side.mean(axis=1).var(ddof=1), _flips(side)) / seeds
             for side in (scores, reference)]  # fmt: skip
    test_set = max(across_images - (_flips(scores) + _flips(reference)) / seeds, 0.0)
    total = sum(sides) + test_set
    parts = sum(side**2 / (seeds - 1) for side in sides) + test_set**2 / max(images - 1, 1)
    df = total**2 / parts if parts > 0 else math.inf
    return _Variance(total, df, sum(sides) * seeds, test_set)


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
) -> Comparison:
    """Verdict on ``scores`` against ``reference``: both seeds x images per-image outcomes
    with rows paired by seed and columns by image (for a factor level, the mean over the
    cells at that level). The interval is cut to ``bounds``, the values the difference can
    take at all (a difference of two accuracies lies in [-1, 1]). ``alpha`` is the
    significance level of this look (smaller at the early looks of an adaptive study,
    ablate.results.sequential; the interval is then the wider repeated interval), and
    ``last_look`` its (seeds, level) at the last look, for the conditional power of an
    undecided comparison."""
    scores = np.asarray(scores, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    seeds = scores.shape[0]
    difference = float((scores - reference).mean())
    variance = _variance(scores, reference)
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
    needed = seeds_needed(variance, min_effect) if verdict == UNDECIDED and seeds > 1 else None
    power = None
    if last_look is not None and verdict == UNDECIDED:
        power = conditional_power(variance, difference, seeds, *last_look)
    return Comparison(seeds, difference, low, high, p_value, improvement, verdict, reason, needed,
                      power)  # fmt: skip


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
    test at ALPHA; Colas et al. 2018). None when even infinitely many seeds would not: the
    test set's own noise is too large, and only more test images help."""
    needed_se = min_effect / (stats.norm.ppf(1 - ALPHA / 2) + stats.norm.ppf(power))
    room = needed_se**2 - variance.floor
    if room <= 0 or not math.isfinite(variance.per_seed):
        return None
    return max(2, math.ceil(variance.per_seed / room))
