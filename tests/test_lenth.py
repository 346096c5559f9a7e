"""Lenth's pseudo standard error for one-seed two-level designs: the published critical
values, the PSE by hand, the contrast basis, and the error rates it keeps on simulated
unreplicated designs (the real-run figures are bench/calibration.py's)."""

import itertools

import numpy as np
import pytest

from ablate import fractional
from ablate.results import lenth

FULL_4 = np.array(list(itertools.product([-1, 1], repeat=4)))  # 2^4: 16 cells


def test_critical_ratios_match_ye_and_hamada():
    # Ye & Hamada (2000), individual error rate 0.05: 2.30 (m = 7), 2.16 (m = 15); Lenth's
    # own t approximation (t with m/3 df: 3.76 and 2.57) is far more conservative.
    assert lenth.critical_ratio(7) == pytest.approx(2.30, abs=0.03)
    assert lenth.critical_ratio(15) == pytest.approx(2.16, abs=0.03)
    assert lenth.p_value(lenth.critical_ratio(15), 15) == pytest.approx(0.05, abs=0.002)


def test_the_pseudo_standard_error_by_hand():
    # |c| median 1.5 -> s0 = 2.25; 40 > 2.5 s0 is left out; the median of the rest is 1.25
    contrasts = np.array([1.0, -2.0, 3.0, 0.5, 40.0, -0.2, 1.5])
    assert lenth.pseudo_standard_error(contrasts)[0] == pytest.approx(1.5 * 1.25)


@pytest.mark.parametrize(
    "signs", [FULL_4, fractional.fractional_signs(6, 4), fractional.screening_signs(5)],
    ids=["full 2^4", "2^(6-2)", "Plackett-Burman 12 runs"],
)  # fmt: skip
def test_the_contrast_basis_spans_every_contrast_main_effects_first(signs):
    basis = lenth.contrast_basis(signs)
    runs = len(signs)
    assert basis.shape == (runs, runs - 1)
    assert np.allclose(basis.T @ basis, np.eye(runs - 1))
    assert np.allclose(basis.sum(axis=0), 0)  # orthogonal to the mean
    for index in range(signs.shape[1]):  # orthogonal designs: main effects are columns
        assert np.allclose(basis[:, index], signs[:, index] / np.sqrt(runs))


def main_and_interactions(signs):
    """Weights over the cells: each main effect (mean at +1 minus mean at -1) and each
    two-factor interaction on the scale ablate.results.effects reports it."""
    runs, factors = signs.shape
    weights = [signs[:, i] / (runs / 2) for i in range(factors)]
    weights += [2 * signs[:, i] * signs[:, j] / (runs / 2)
                for i, j in itertools.combinations(range(factors), 2)]  # fmt: skip
    bounds = [(-1.0, 1.0)] * factors + [(-2.0, 2.0)] * (len(weights) - factors)
    return weights, bounds


def test_null_designs_keep_the_error_rates_per_effect_and_study_wide():
    """Pure noise on a 2^4 design with one seed per cell: each effect is 'better' or
    'worse' about 5 % of the time alone, and any of its 10 effects at most 5 % under Holm."""
    weights, bounds = main_and_interactions(FULL_4)
    rng = np.random.default_rng(7)
    alone, family = [], []
    for _ in range(1500):
        accuracies = 0.9 + rng.normal(0, 0.01, len(FULL_4))
        each, _ = lenth.judge(FULL_4, accuracies, weights, bounds, 0.0, holm=False)
        held, _ = lenth.judge(FULL_4, accuracies, weights, bounds, 0.0, holm=True)
        alone.append(np.mean([c.verdict in ("better", "worse") for c in each]))
        family.append(any(c.verdict in ("better", "worse") for c in held))
    assert 0.035 <= np.mean(alone) <= 0.065  # 1500 x 10 effects: +/- 0.01 is 3 SEs
    assert np.mean(family) <= 0.05


def test_large_effects_are_found_and_null_ones_bounded():
    """Two active factors 10 noise SDs large among four: both decided with the right sign,
    the null ones' intervals hold 0, every interval inside its range."""
    weights, bounds = main_and_interactions(FULL_4)
    rng = np.random.default_rng(3)
    accuracies = 0.8 + 0.1 * FULL_4[:, 0] / 2 - 0.1 * FULL_4[:, 1] / 2
    accuracies += rng.normal(0, 0.01, len(FULL_4))
    found, rule = lenth.judge(FULL_4, accuracies, weights, bounds, 0.005)
    assert [c.verdict for c in found[:2]] == ["better", "worse"]
    assert found[0].difference == pytest.approx(0.1, abs=0.02)
    for c in found[2:4]:
        assert c.ci_low <= 0 <= c.ci_high and c.verdict not in ("better", "worse")
    assert all(-1 <= c.ci_low <= c.ci_high <= 1 for c in found[:4])
    assert all(c.p_adjusted >= c.p_value for c in found)
    assert rule.startswith("Lenth's pseudo standard error (15 contrasts of 16 one-seed cells)")


def test_a_zero_pseudo_standard_error_decides_nothing():
    weights, bounds = main_and_interactions(FULL_4)
    accuracies = np.where(FULL_4[:, 0] > 0, 0.9, 0.8)  # every other contrast exactly 0
    found, rule = lenth.judge(FULL_4, accuracies, weights, bounds, 0.005)
    assert {c.verdict for c in found} == {"undecided"}
    assert "exactly 0" in found[0].reason and "no verdicts" in rule
