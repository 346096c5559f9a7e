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
    assert prior.df == fit.df_resid == 12 and prior.cells == 5
    # each residual on its cell's binomial scale p(1 - p), the mean of which is the unit
    spread = table.mean(axis=1) * (1 - table.mean(axis=1))
    scaled = (fit.resid.to_numpy() ** 2 / spread[frame["cell"]]).sum() / fit.df_resid
    assert prior.variance == pytest.approx(scaled * spread.mean())
    assert prior.variance == pytest.approx(fit.mse_resid, rel=0.05)  # cells alike: about it
    assert prior.spread == pytest.approx(tuple(spread / spread.mean()))


def test_a_cell_far_below_the_others_is_expected_to_spread_more_not_told_divergent():
    # the binomial scale: a cell at 0.55 spreads more than cells at 0.93 by sqrt(4.4)
    rng = np.random.default_rng(8)
    table = 0.93 + rng.normal(0, 0.01, size=(6, 2))
    table[3] = 0.55 + rng.normal(0, 0.01 * np.sqrt(0.55 * 0.45 / (0.93 * 0.07)), size=2)
    prior = moderation.block_prior(table, keep=0)
    assert prior.left_out == ()
    far, calm = np.zeros(6), np.zeros(6)
    far[[3, 0]] = calm[[1, 0]] = [1, -1]
    assert prior.relative(far) == pytest.approx(prior.spread[3] + prior.spread[0])
    assert prior.relative(far) > 2 * prior.relative(calm)  # (4.4 + 1) / (1 + 1) in truth


@pytest.mark.parametrize("shape", [(6, 2), (6, 3), (12, 5)])
def test_identical_cells_leave_the_pool_at_most_five_percent_of_the_time(shape):
    rng = np.random.default_rng(6)
    tables = [0.9 + rng.normal(0, 0.01, size=shape) for _ in range(2000)]
    lost = np.mean([moderation.block_prior(t, keep=0).left_out != () for t in tables])
    assert lost <= 0.065  # 5 % plus 3 standard errors of 2000 studies


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


def test_two_divergent_cells_at_two_seeds_neither_hide_each_other_nor_smear_the_pool():
    # The default study's shape when batch norm collapsed on 200 training images: two
    # cells' seeds 35 and 12 points apart, the others within a point or two.
    rng = np.random.default_rng(1)
    table = 0.93 + rng.normal(0, 0.005, size=(6, 2))
    table[2] = [0.72, 0.37]
    table[5] = [0.22, 0.10]
    prior = moderation.block_prior(table, keep=0)
    assert prior.left_out == (2, 5) and prior.df == 3
    assert prior.variance == pytest.approx(moderation.block_prior(table[[0, 1, 3, 4]]).variance)
    assert prior.variance < 1e-4  # the calm cells' spread, not the collapsed ones'


def test_two_cells_or_one_seed_pool_nothing():
    assert moderation.block_prior(np.ones((2, 5))) is moderation.NONE
    assert moderation.block_prior(np.ones((6, 1))) is moderation.NONE
    assert moderation.borrowed(5e-4, 1, moderation.NONE, 2.0) == (5e-4, 1)


def test_a_contrast_moderates_its_own_variance_toward_the_pooled_one():
    # Smyth 2004: (d0 s0^2 + d s^2) / (d0 + d), with the pool's d0 = 10 degrees of freedom
    prior = moderation.Prior(variance=1e-4, df=10.0, cells=6)
    assert moderation.borrowed(1e-4, 1, prior, 2.0) == pytest.approx(((20e-4 + 1e-4) / 11, 10))
    assert moderation.borrowed(9e-4, 1, prior, 2.0) == pytest.approx(((20e-4 + 9e-4) / 11, 10))
    assert moderation.borrowed(1e-4, 1, prior, 0.5) == pytest.approx(((5e-4 + 1e-4) / 11, 10))


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
    # one cell's own shifts 20 times the others': at 5 seeds certain to stand out
    pairs, block = study(rng, 7, seeds=5, spreads=[1, 1, 1, 1, 1, 1, 20])
    results, rule = family(pairs, MIN_EFFECT, block=block, rows=range(1, 7), keep=0)
    pooled = moderation.block_prior(block, keep=0)
    assert pooled.left_out == (6,) and pooled.df == 20  # six calm cells, 4 seeds' df each
    for row, ((cell, base), result) in enumerate(zip(pairs[:-1], results[:-1], strict=True)):
        own = seed_spread(cell, base)
        assert result.seed_df == 20
        alone = compare(cell, base, MIN_EFFECT)
        contrast = np.zeros(7)
        contrast[[row + 1, 0]] = [1, -1]
        moderated = compare(cell, base, MIN_EFFECT, prior=pooled,
                            weight=pooled.relative(contrast))  # fmt: skip
        assert moderated.seed_df == 20 and alone.seed_df == 4
        assert (moderated.ci_low, moderated.ci_high) == (result.ci_low, result.ci_high)
        expected = (20 * pooled.relative(contrast) * pooled.variance + 4 * own) / 24
        assert moderation.borrowed(own, 4, pooled, pooled.relative(contrast)) == pytest.approx(
            (expected, 20)
        )
    assert results[-1].seed_df == 4  # its own seeds - 1: no calm variance lent to it
    assert "moderated toward the study's pooled one (6 cells, 20 df, 1 divergent" in rule
    assert "Holm over 6 comparisons" in rule


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
