"""Intervals of one cell's test accuracy and macro F1 over seeds AND test images.

Every run of a study scores the same test images, so a cell is a matrix of per-image
outcomes: seeds x images (1 = right, 0 = wrong; for a factor level, the mean over its
cells). Per cell, ``cell_interval`` is the Multi-Bootstrap (Sellam et al. 2022, MultiBERTs):
resample seeds and test images jointly, images paired across seeds, percentile bounds,
never narrower than the Wilson interval of the test set (so never of zero width).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse
from statsmodels.stats.proportion import proportion_confint

ALPHA = 0.05  # intervals are 1 - ALPHA = 95 %
BOOTSTRAP_REPLICATES = 2000


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
