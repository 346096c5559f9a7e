"""Seed variances pooled across a study (a randomised block design's error term) and the
study-wide error rule (Holm): the pooled variance is the two-way fit's residual mean square,
a divergent cell keeps its own variance, and a family of comparisons of identical settings
rarely gets any verdict."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from statsmodels.formula.api import ols
from statsmodels.stats.multitest import multipletests

from ablate.results import moderation
from ablate.results.statistics import family
from ablate.results.verdicts import BETTER, UNDECIDED, WORSE, compare, holm, seed_spread

MIN_EFFECT = 0.005


def test_the_pooled_variance_is_the_block_designs_residual_mean_square():
    # cells x seeds accuracies; statsmodels' two-way additive fit gives the same error term
    rng = np.random.default_rng(3)  # a table without a divergent cell (seed 1 has one)
    table = 0.9 + rng.normal(0, 0.02, size=(5, 1)) + rng.normal(0, 0.01, size=(5, 4))
    frame = pd.DataFrame([{"cell": c, "seed": s, "accuracy": table[c, s]}
                          for c in range(5) for s in range(4)])  # fmt: skip
    fit = ols("accuracy ~ C(cell) + C(seed)", data=frame).fit()
    prior = moderation.block_prior(table)
    assert prior.left_out == ()
    assert prior.variance == pytest.approx(fit.mse_resid)
    assert prior.df == fit.df_resid == 12 and prior.cells == 5


def test_identical_cells_rarely_leave_the_pool():
    rng = np.random.default_rng(6)
    tables = [rng.normal(0, 0.01, size=(6, 3)) for _ in range(1000)]
    assert np.mean([moderation.block_prior(t, keep=0).left_out != () for t in tables]) < 0.05


def test_a_divergent_cell_leaves_the_pool_but_the_baseline_never_does():
    rng = np.random.default_rng(2)
    table = 0.9 + rng.normal(0, 0.01, size=(6, 5))
    table[4] += rng.normal(0, 0.2, size=5)  # one cell's seeds spread 20 times more
    prior = moderation.block_prior(table, keep=0)
    assert prior.left_out == (4,) and prior.cells == 5
    assert prior.variance == pytest.approx(moderation.block_prior(np.delete(table, 4, 0)).variance)
    assert "1 divergent cell(s) left out" in prior.describe()
    table[0] += rng.normal(0, 0.2, size=5)  # now the baseline too: it stays
    assert 0 not in moderation.block_prior(table, keep=0).left_out


def test_two_cells_or_one_seed_pool_nothing():
    assert moderation.block_prior(np.ones((2, 5))) is moderation.NONE
    assert moderation.block_prior(np.ones((6, 1))) is moderation.NONE
    assert moderation.borrowed(5e-4, 1, moderation.NONE, 2.0) == (5e-4, 1)


def test_a_contrast_borrows_the_pooled_variance_unless_its_own_is_larger():
    prior = moderation.Prior(variance=1e-4, df=10.0, cells=6)
    assert moderation.borrowed(1e-4, 1, prior, 2.0) == (2e-4, 10.0)  # 2 x pooled, 10 df
    assert moderation.borrowed(9e-4, 1, prior, 2.0) == (9e-4, 1)  # larger: its own
    assert moderation.borrowed(1e-4, 1, prior, 0.5) == (1e-4, 1)  # 0.5 x 1e-4 is smaller


# Comparisons of one study: per-seed runs that share the seed (paired), on 300 images.

DIFFICULTY = np.random.default_rng(0).normal(2.5, 2.0, size=300)


def study(rng, cells, seeds, shifts=None, spreads=None):
    """(cell, baseline) seeds x images outcomes of ``cells`` cells, the first the baseline,
    and the block of per-seed accuracies: a seed's runs share a whole-model shift (as one
    seed's initial weights and data order do), each cell adds its own (``spreads`` times
    the usual size) and its ``shifts``."""
    shifts = shifts or [0.0] * cells
    spreads = spreads or [1.0] * cells
    shared = rng.normal(0, 0.25, size=(seeds, 1))
    runs = []
    for shift, spread in zip(shifts, spreads, strict=True):
        own = rng.normal(0, 0.15 * spread, size=(seeds, 1))
        probability = 1 / (1 + np.exp(-(DIFFICULTY + shift + shared + own)))
        runs.append((rng.random((seeds, len(DIFFICULTY))) < probability).astype(float))
    block = np.array([run.mean(axis=1) for run in runs])
    return [(cell, runs[0]) for cell in runs[1:]], block


def test_calm_cells_borrow_degrees_of_freedom_and_a_divergent_one_keeps_its_own():
    rng = np.random.default_rng(3)
    pairs, block = study(rng, 7, seeds=3, spreads=[1, 1, 1, 1, 1, 1, 12])
    results, rule = family(pairs, MIN_EFFECT, block=block)
    pooled = moderation.block_prior(block)
    assert pooled.df == 12
    for (cell, base), result in zip(pairs, results, strict=True):
        own = seed_spread(cell, base)
        assert result.seed_df == (2 if own > 2 * pooled.variance else 12)
    assert results[-1].seed_df == 2  # its own seeds - 1: no calm variance lent to it
    assert sum(r.seed_df == 12 for r in results[:-1]) >= 3  # calm ones mostly borrow
    assert "pooled over the study's 7 cells" in rule and "Holm over 6 comparisons" in rule
    alone = [compare(cell, base, MIN_EFFECT) for cell, base in pairs]
    assert all(r.seed_df == 2 for r in alone)  # a comparison on its own borrows nothing


def test_holm_adjusts_the_p_values_as_statsmodels_and_says_why_a_verdict_went():
    rng = np.random.default_rng(4)
    pairs, _ = study(rng, 6, seeds=3, shifts=[0, -0.35, 0, 0, 0, 0])
    alone = [compare(cell, base, MIN_EFFECT) for cell, base in pairs]
    adjusted = holm(alone, MIN_EFFECT)
    expected = multipletests([r.p_value for r in alone], 0.05, "holm")[1]
    assert [r.p_adjusted for r in adjusted] == pytest.approx(list(expected))
    for before, after in zip(alone, adjusted, strict=True):
        assert after.p_adjusted >= before.p_value
        if before.verdict in (BETTER, WORSE) and after.verdict == UNDECIDED:
            assert "Holm-adjusted" in after.reason


def test_a_family_of_twenty_identical_cells_rarely_gets_any_verdict():
    rng = np.random.default_rng(5)
    any_adjusted = any_alone = 0
    studies = 150
    for _ in range(studies):
        pairs, block = study(rng, 21, seeds=3)
        alone, _ = family(pairs, MIN_EFFECT, multiplicity="none", block=block)
        adjusted = holm(alone, MIN_EFFECT)
        any_alone += any(r.verdict in (BETTER, WORSE) for r in alone)
        any_adjusted += any(r.verdict in (BETTER, WORSE) for r in adjusted)
    assert any_adjusted / studies <= 0.05
    assert any_alone / studies >= 0.15  # what the study-wide rule prevents
