"""A cell's interval over seeds and test images: unbiased for the crossed design, covering
the population's accuracy, narrowing as seeds are added, and macro F1's pseudo-values."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit
from sklearn.metrics import f1_score
from statsmodels.stats.proportion import proportion_confint

from ablate.results.intervals import _f1_pseudo_values, cell_interval, crossed_variance

IMAGES = 270


def crossed_table(rng, seeds, difficulty_sd, seed_sd, images=IMAGES):
    """New test images and new seeds: image j of seed s is right with probability
    sigmoid(d_j + u_s), d_j ~ N(2, difficulty_sd), u_s ~ N(0, seed_sd)."""
    difficulty = rng.normal(2.0, difficulty_sd, size=images)
    shift = rng.normal(0.0, seed_sd, size=(seeds, 1))
    return (rng.random((seeds, images)) < expit(difficulty + shift)).astype(float)


def population_accuracy(difficulty_sd, seed_sd):
    rng = np.random.default_rng(0)
    difficulty = rng.normal(2.0, difficulty_sd, size=200_000)
    return float(np.mean([expit(difficulty + u).mean() for u in rng.normal(0, seed_sd, 400)]))


@pytest.mark.parametrize(("difficulty_sd", "seed_sd"), [(0.0, 0.1), (1.5, 0.5)])
def test_the_variance_is_that_of_the_mean_over_new_seeds_and_new_images(difficulty_sd, seed_sd):
    # (0, 0.1): images equally hard, so almost all per-image variance is seed-specific (the
    # interaction); counted twice, as a seeds x images bootstrap does, it would come out
    # about 1.7 times too large.
    rng = np.random.default_rng(1)
    tables = [crossed_table(rng, 10, difficulty_sd, seed_sd) for _ in range(2000)]
    actual = np.var([table.mean() for table in tables], ddof=1)
    estimated = np.mean([crossed_variance(table)[0] for table in tables])
    assert 0.9 < estimated / actual < 1.15


# 0.15: the seed bank's spread, about 2 points; 0.3, twice that, where a normal quantile
# instead of t's covers 86 % at two seeds
@pytest.mark.parametrize(("seeds", "seed_sd"), [(2, 0.15), (3, 0.15), (5, 0.15), (10, 0.15),
                                                (2, 0.3), (3, 0.3)])  # fmt: skip
def test_the_interval_covers_the_population_accuracy(seeds, seed_sd):
    rng = np.random.default_rng(seeds)
    truth = population_accuracy(1.5, seed_sd)
    intervals = [cell_interval(crossed_table(rng, seeds, 1.5, seed_sd)) for _ in range(500)]
    covered = np.mean([found.low <= truth <= found.high for found in intervals])
    assert covered >= 0.93
    assert all(0.0 <= found.low < found.high <= 1.0 for found in intervals)


def test_the_interval_narrows_with_seeds_below_the_test_sets_wilson_interval():
    rng = np.random.default_rng(2)

    def width(seeds):
        found = [cell_interval(crossed_table(rng, seeds, 1.5, 0.15)) for _ in range(20)]
        return np.mean([interval.high - interval.low for interval in found])

    widths = {seeds: width(seeds) for seeds in (3, 5, 10, 20)}
    assert widths[3] > widths[5] > widths[10] > widths[20]
    accuracy = population_accuracy(1.5, 0.15)
    low, high = proportion_confint(round(accuracy * IMAGES), IMAGES, 0.05, method="wilson")
    assert widths[20] < 0.85 * (high - low)  # the old floor: the test set's Wilson interval


def test_one_seed_is_the_test_sets_wilson_interval():
    correct = (np.arange(100) < 90).astype(float)[None, :]
    found = cell_interval(correct)
    low, high = proportion_confint(90, 100, 0.05, method="wilson")
    assert (found.low, found.high) == pytest.approx((low, high), abs=2e-3)  # t(99), not z
    assert found.note == "one seed: test-set uncertainty only"


def test_macro_f1_pseudo_values_are_the_jackknifes():
    rng = np.random.default_rng(3)
    true = rng.integers(0, 4, size=200)
    predicted = np.where(rng.random(200) < 0.8, true, rng.integers(0, 4, size=200))
    pseudo = _f1_pseudo_values(true, predicted, 4)
    f1 = f1_score(true, predicted, average="macro")
    assert pseudo.mean() == pytest.approx(f1)
    left_out = np.array([
        f1_score(np.delete(true, j), np.delete(predicted, j), average="macro")
        for j in range(200)
    ])  # fmt: skip
    jackknife = 200 * f1 - 199 * left_out  # Efron 1982's pseudo-values
    assert np.abs(pseudo - jackknife).max() < 0.02
    assert np.corrcoef(pseudo, jackknife)[0, 1] > 0.999
