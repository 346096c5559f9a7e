"""Intervals of one cell's test accuracy and macro F1 over seeds AND test images.

Every run of a study scores the same test images, so a cell is a matrix of per-image
outcomes: seeds x images (1 = right, 0 = wrong; for a factor level, the mean over its
cells). Its mean is uncertain through both: another seed gives another model, another
sample of images another score. The two are crossed random factors, and the variance of
the mean over R seeds and C images is

    sigma_seed^2 / R + sigma_image^2 / C + sigma_interaction^2 / (R C)

(the crossed random-effects model of Owen 2007, "The pigeonhole bootstrap").
``crossed_variance`` estimates it by the method of moments from the two-way table: the
per-seed scores' variance over R (which holds the seed part and the interaction's share)
plus the image part, the variance of the per-image means over C less the interaction
counted already. Resampling seeds and images together (the Multi-Bootstrap of Sellam et
al. 2022, which ablate used before) over-counts the interaction, as Owen shows, and,
floored at the test set's Wilson interval, stopped narrowing after about five seeds; this
interval keeps narrowing as seeds are added, down to the images' own part.

The interval is Wilson's (1927) score interval at the effective number of images
p(1 - p) / variance, with a t quantile at the Satterthwaite degrees of freedom of the two
parts: Korn & Graubard's (1998, "Confidence intervals for proportions with small expected
number of positive counts estimated from survey data") construction for proportions from
clustered samples. It lies in [0, 1] and never has zero width; where nothing varies (every
run right on every image) the test set's own Wilson interval is what is left. Macro F1 is
not a mean over images: its per-image pseudo-values (the infinitesimal jackknife, Efron
1982, ch. 6: each image's influence on the run's macro F1) go into the same estimator.
Coverage, on simulated crossed populations, and cost: bench/intervals.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

ALPHA = 0.05  # intervals are 1 - ALPHA = 95 %


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float
    note: str = ""  # e.g. that one seed gives the test-set interval only


def flips(values: np.ndarray) -> float:
    """The seed-to-seed variance of a run's mean that independent per-image flips alone
    would give (each image's variance over seeds, summed): the interaction's share."""
    return float(values.var(axis=0, ddof=1).sum()) / values.shape[1] ** 2


def crossed_variance(values: np.ndarray) -> tuple[float, float]:
    """The variance of the mean of a seeds x images table and its Satterthwaite (1946)
    degrees of freedom (module docstring). The seed part is never taken below what the
    per-image flips give (a spread over two or three seeds is often small by chance; the
    same guard as the comparisons', ablate.results.verdicts). With one seed, the test
    images' part alone."""
    values = np.asarray(values, dtype=np.float64)
    seeds, images = values.shape
    across_images = values.mean(axis=0).var(ddof=1) / images if images > 1 else 0.0
    if seeds < 2:
        return across_images, max(images - 1, 1)
    interaction = flips(values) / seeds
    seed_part = max(values.mean(axis=1).var(ddof=1) / seeds, interaction)
    image_part = max(across_images - interaction, 0.0)
    total = seed_part + image_part
    parts = seed_part**2 / (seeds - 1) + image_part**2 / max(images - 1, 1)
    return float(total), float(total**2 / parts) if parts > 0 else math.inf


def bounded_interval(
    estimate: float, variance: float, df: float, images: int
) -> tuple[float, float]:
    """Wilson's interval at the effective number of images p(1 - p) / ``variance`` (the
    test set's ``images`` where nothing varied), with the t quantile at ``df``."""
    spread = estimate * (1 - estimate)
    effective = spread / variance if variance > 0 and spread > 0 else images
    z = float(stats.t.ppf(1 - ALPHA / 2, df)) if math.isfinite(df) else 1.959964
    centre = (estimate + z**2 / (2 * effective)) / (1 + z**2 / effective)
    half = z / (1 + z**2 / effective) * math.sqrt(spread / effective + z**2 / (4 * effective**2))
    return float(max(centre - half, 0.0)), float(min(centre + half, 1.0))


def cell_interval(correct: np.ndarray) -> Interval:
    """Mean test accuracy over seeds, with its interval over seeds and test images
    (``correct`` is seeds x images, 1 right, 0 wrong, or a mean of such tables)."""
    correct = np.asarray(correct, dtype=np.float64)
    return _interval(float(correct.mean()), correct)


def macro_f1_interval(true: np.ndarray, predicted: np.ndarray, classes: int) -> Interval:
    """Mean macro F1 over seeds (``true`` and ``predicted`` are seeds x images class
    indices), with its interval from the runs' per-image pseudo-values."""
    true, predicted = np.asarray(true), np.asarray(predicted)
    pseudo = np.vstack([_f1_pseudo_values(t, p, classes)
                        for t, p in zip(true, predicted, strict=True)])  # fmt: skip
    return _interval(float(pseudo.mean()), pseudo)


def _interval(estimate: float, values: np.ndarray) -> Interval:
    seeds, images = values.shape
    variance, df = crossed_variance(values)
    low, high = bounded_interval(estimate, variance, df, images)
    note = "" if seeds > 1 else "one seed: test-set uncertainty only"
    return Interval(estimate, low, high, note)


def _f1_pseudo_values(true: np.ndarray, predicted: np.ndarray, classes: int) -> np.ndarray:
    """One run's macro F1 plus each image's influence on it: F1_k = 2 TP_k / D_k with
    D_k = true_k + predicted_k counts; image j moves it by (2 [t = p = k] - F1_k ([t = k]
    + [p = k])) / (D_k / n). A class with D_k = 0 scores 0 (scikit-learn's
    zero_division=0) and has no influence. The pseudo-values average to the run's F1."""
    images = true.size
    hit = np.bincount(true[true == predicted], minlength=classes)
    denominator = np.bincount(true, minlength=classes) + np.bincount(predicted, minlength=classes)
    present = denominator > 0
    f1 = np.where(present, 2 * hit / np.where(present, denominator, 1), 0.0)
    share = np.where(present, denominator / images, 1.0)
    influence = np.zeros(images)
    for k in np.flatnonzero(present):
        involved = (true == k).astype(float) + (predicted == k)
        influence += (2 * ((true == k) & (predicted == k)) - f1[k] * involved) / share[k]
    return f1.mean() + influence / classes
