"""Verdicts: intervals over seeds and test images, and the calibration of the verdict rule,
on simulated runs and on the bank of real runs in bench/data/seed_bank.csv.gz."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest
from conftest import REPO

sys.path.insert(0, str(REPO / "bench"))
import seed_bank
from sklearn.metrics import f1_score

from ablate.results.intervals import cell_interval, macro_f1_interval
from ablate.results.statistics import family
from ablate.results.verdicts import BETTER, NO_DIFFERENCE, UNDECIDED, WORSE, compare

MIN_EFFECT = 0.005
SEED_COUNTS = (2, 3, 5, 10)
DECIDED = (BETTER, WORSE)


def simulated_runs(rng, difficulty, seeds, shift=0.0, shift_sd=0.3):
    """seeds x images outcomes: image i is right with probability sigmoid(difficulty_i +
    shift + a per-run whole-model shift), so runs differ both image by image (flips) and as
    a whole, as the real bank's runs do."""
    whole = rng.normal(0, shift_sd, size=(seeds, 1))
    probability = 1 / (1 + np.exp(-(difficulty + shift + whole)))
    return (rng.random((seeds, len(difficulty))) < probability).astype(float)


def false_verdict_rates(draw, repetitions):
    """Per seed count: the share of A/A comparisons (identical settings, independent
    training randomness) that end in 'better' or 'worse'."""
    rates = {}
    for seeds in SEED_COUNTS:
        found = [compare(*draw(seeds), MIN_EFFECT).verdict in DECIDED for _ in range(repetitions)]
        rates[seeds] = float(np.mean(found))
    return rates


def test_ab_verdicts_on_simulated_runs_are_calibrated_and_find_real_differences():
    rng = np.random.default_rng(7)
    difficulty = rng.normal(2.5, 2.0, size=400)  # ~85 % accuracy on 400 test images

    def same(seeds):
        return simulated_runs(rng, difficulty, seeds), simulated_runs(rng, difficulty, seeds)

    rates = false_verdict_rates(same, repetitions=1000)
    assert all(rate <= 0.05 for rate in rates.values()), rates

    def worse(seeds):  # about 8 points worse, with runs spread about 3 points
        return simulated_runs(rng, difficulty, seeds, shift=-0.8), same(seeds)[0]

    found = {
        seeds: np.mean([compare(*worse(seeds), MIN_EFFECT).verdict == WORSE for _ in range(100)])
        for seeds in SEED_COUNTS
    }
    assert found[5] >= 0.8 and found[10] >= 0.95, found
    assert found[2] <= found[3] <= found[5] <= found[10], found


def test_one_seed_is_undecided_with_the_reason():
    rng = np.random.default_rng(1)
    difficulty = rng.normal(2.0, 1.0, size=300)
    result = compare(
        simulated_runs(rng, difficulty, 1, shift=-3), simulated_runs(rng, difficulty, 1), 0.005
    )
    assert result.verdict == UNDECIDED and result.reason.startswith("one seed")
    assert result.p_value < 1e-6  # the test images alone tell it, McNemar-like
    assert result.seeds_needed is None


def test_identical_runs_have_no_difference_and_clear_differences_are_decided():
    runs = np.random.default_rng(2).integers(0, 2, size=(3, 500)).astype(float)
    same = compare(runs, runs.copy(), MIN_EFFECT)
    assert (same.verdict, same.difference, same.ci_low, same.ci_high) == (NO_DIFFERENCE, 0, 0, 0)
    assert same.probability_of_improvement == 0.5
    everything_right = np.ones((3, 500))
    better = compare(everything_right, runs, MIN_EFFECT)
    assert better.verdict == BETTER and better.probability_of_improvement == 1.0


def test_seed_advice_grows_as_the_seed_spread_grows_and_is_none_when_images_limit():
    rng = np.random.default_rng(3)
    difficulty = rng.normal(2.0, 1.5, size=2000)
    calm = compare(simulated_runs(rng, difficulty, 3, 0.01, 0.05),
                   simulated_runs(rng, difficulty, 3, 0.0, 0.05), 0.02)  # fmt: skip
    shaky = compare(simulated_runs(rng, difficulty, 3, 0.01, 0.6),
                    simulated_runs(rng, difficulty, 3, 0.0, 0.6), 0.02)  # fmt: skip
    assert calm.verdict == shaky.verdict == UNDECIDED
    assert calm.seeds_needed is not None and shaky.seeds_needed is not None
    assert 2 <= calm.seeds_needed < shaky.seeds_needed
    # Two cells that get different images right: on 60 test images that disagreement
    # alone leaves more uncertainty than a 2-point difference allows, whatever the seeds.
    other = rng.normal(2.0, 1.5, size=60)
    few_images = compare(simulated_runs(rng, difficulty[:60], 3, 0.0, 0.05),
                         simulated_runs(rng, other, 3, 0.0, 0.05), 0.02)  # fmt: skip
    assert few_images.verdict == UNDECIDED and few_images.seeds_needed is None


def test_a_difference_interval_lies_within_what_a_difference_can_be():
    # Two runs far apart on one side, two seeds: a wide interval, but never below -1.
    hopeless = np.vstack([np.arange(270) < 12, np.arange(270) < 60]).astype(float)
    good = np.vstack([np.arange(270) < 241, np.arange(270) < 238]).astype(float)
    result = compare(hopeless, good, MIN_EFFECT)
    assert -1.0 <= result.ci_low < result.difference < result.ci_high <= 1.0
    assert result.ci_low == -1.0  # cut: the raw t interval reaches below -1


def test_cell_intervals_lie_in_0_1_with_width_also_when_every_image_is_right():
    perfect = cell_interval(np.ones((2, 270)))
    assert perfect.estimate == 1.0 and 0.98 < perfect.low < 1.0 and perfect.high == 1.0
    almost = cell_interval(np.vstack([np.r_[np.ones(268), 0, 0]] * 2))
    assert 0.97 < almost.low < almost.estimate < almost.high <= 1.0  # 268 / 270 twice
    assert almost.high - almost.low >= 0.01
    wrong = cell_interval(np.zeros((3, 100)))
    assert wrong.low == 0.0 and 0 < wrong.high < 0.06
    one = cell_interval(np.ones((1, 100)) * (np.arange(100) < 90))
    assert one.note == "one seed: test-set uncertainty only" and one.low < 0.9 < one.high


def test_macro_f1_interval_centres_on_scikit_learns_macro_f1():
    rng = np.random.default_rng(4)
    true = np.tile(rng.integers(0, 4, size=300), (3, 1))
    predicted = np.where(rng.random((3, 300)) < 0.8, true, rng.integers(0, 4, size=(3, 300)))
    found = macro_f1_interval(true, predicted, 4)
    pairs = zip(true, predicted, strict=True)
    expected = np.mean([f1_score(t, p, average="macro") for t, p in pairs])
    assert found.estimate == pytest.approx(expected)
    assert 0 <= found.low < found.estimate < found.high <= 1
    assert found.high - found.low < 0.15
    assert abs((found.low + found.high) / 2 - found.estimate) < 0.02


# The bank of real runs: 60 seeds of one tiny digits configuration ("a"), and 20 each of a
# level that is a few points worse ("b"), one trained at a hopeless learning rate ("c") and
# one trained for one epoch instead of four ("d"), and four that, like b, change only the
# learning rate or the epochs ("e" to "h"). Rows in seed order, so that row k of every
# level is seed k + 1: runs of two levels at one seed pair up.


@pytest.fixture(scope="module")
def bank():
    """Per level: seeds x images, 1 where the run is right (the benchmarks' reader)."""
    predicted, true = seed_bank.load_predictions()
    return {level: (runs == true).astype(float) for level, runs in predicted.items()}


def test_the_seed_bank_holds_real_runs_of_eight_levels(bank):
    assert sorted(bank) == ["a", "b", "c", "d", "e", "f", "g", "h"]
    assert bank["a"].shape == (60, 270)
    for level in "bcdefgh":
        assert bank[level].shape == (20, 270)
    accuracy = {level: runs.mean() for level, runs in bank.items()}
    assert accuracy["c"] < accuracy["b"] < accuracy["a"] and accuracy["d"] < accuracy["b"]
    assert len({tuple(row) for row in bank["a"]}) == 60  # independent training randomness


def test_ab_verdicts_on_real_runs_are_calibrated_at_every_seed_count(bank):
    rng = np.random.default_rng(11)

    def split(seeds):
        order = rng.permutation(len(bank["a"]))
        return bank["a"][order[:seeds]], bank["a"][order[seeds : 2 * seeds]]

    rates = false_verdict_rates(split, repetitions=200)
    assert all(rate <= 0.05 for rate in rates.values()), rates


def test_a_level_trained_at_a_hopeless_rate_is_worse_at_two_seeds_and_always_at_three(bank):
    # paired by seed, two seeds leave one degree of freedom for the per-seed difference
    # (a t quantile of 12.7): the hopeless level's own spread of 4 points still leaves it
    # worse in almost every draw; with three seeds, in every one
    rng = np.random.default_rng(12)
    found = {}
    for seeds in (2, 3):
        verdicts = []
        for _ in range(100):
            pick = rng.choice(20, size=seeds, replace=False)  # both cells at the same seeds
            verdicts.append(compare(bank["c"][pick], bank["a"][pick], MIN_EFFECT).verdict)
        found[seeds] = np.mean([v == WORSE for v in verdicts])
    assert found[2] >= 0.9 and found[3] == 1.0, found


def test_a_level_a_few_points_worse_is_found_more_often_with_more_seeds(bank):
    rng = np.random.default_rng(13)
    found, unpaired = {}, {}
    for seeds in SEED_COUNTS:
        hits, misses = [], []
        for _ in range(100):
            # as the pipeline runs them: both cells at the same seeds
            pick = rng.choice(20, size=seeds, replace=False)
            hits.append(compare(bank["b"][pick], bank["a"][pick], MIN_EFFECT).verdict == WORSE)
            other = rng.choice(20, size=seeds, replace=False)
            misses.append(compare(bank["b"][pick], bank["a"][other], MIN_EFFECT).verdict == WORSE)
        found[seeds], unpaired[seeds] = float(np.mean(hits)), float(np.mean(misses))
    # 2.5 points worse, runs spread 2 points but a seed's two runs move together
    assert found[2] <= found[3] <= found[5] <= found[10], found
    assert found[5] >= 0.5 and found[10] >= 0.9, found
    # pairing is what finds it: the same runs compared across seeds are told far less often
    assert found[5] >= unpaired[5] + 0.2, (found, unpaired)


def test_a_study_of_six_identical_cells_rarely_gets_any_verdict_on_real_runs(bank):
    # six pseudo-cells of level a at seeds drawn without overlap, decided as one study:
    # pooled seed variance and Holm's adjustment (the default rule)
    rng = np.random.default_rng(14)
    for seeds in SEED_COUNTS:
        studies = []
        for _ in range(400):
            order = rng.permutation(60)
            cells = [bank["a"][order[i * seeds : (i + 1) * seeds]] for i in range(6)]
            block = np.array([cell.mean(axis=1) for cell in cells])
            results, rule = family([(cell, cells[0]) for cell in cells[1:]], MIN_EFFECT,
                                   block=block)  # fmt: skip
            studies.append(any(r.verdict in DECIDED for r in results))
        assert "Holm over 5 comparisons" in rule and "moderated toward the study's" in rule
        # 5 % and 1.5 standard errors of 400 studies (bench/calibration.py: 4 % on 2,000)
        assert np.mean(studies) <= 0.065, (seeds, np.mean(studies))


def test_in_a_study_of_like_cells_two_seeds_find_a_level_a_few_points_worse(bank):
    """Levels e to h change only a's learning rate or epochs, as b does, so at one seed
    every cell starts from a's weights and data order: the study's pool is of b's kind and
    lends its comparison 5 degrees of freedom at two seeds, where b against a alone has 1
    (a t quantile of 12.7). Under the default rule (Holm over the five comparisons) b,
    2.5 points worse, is then 'worse' in over a quarter of the studies (bench/
    calibration.py: 31 % of 600) and alone almost never."""
    rng = np.random.default_rng(15)
    in_study, alone = [], []
    for _ in range(300):
        pick = rng.choice(20, size=2, replace=False)  # every cell at the same two seeds
        cells = [bank[level][pick] for level in "abefgh"]
        block = np.array([cell.mean(axis=1) for cell in cells])
        results, rule = family([(cell, cells[0]) for cell in cells[1:]], MIN_EFFECT,
                               block=block, rows=range(1, 6), keep=0)  # fmt: skip
        in_study.append(results[0].verdict == WORSE)
        alone.append(compare(cells[1], cells[0], MIN_EFFECT).verdict == WORSE)
    assert "Holm over 5 comparisons" in rule and "(6 cells, 5 df;" in rule
    assert np.mean(in_study) >= 0.25 and np.mean(alone) <= 0.05, (np.mean(in_study), np.mean(alone))


def test_levels_far_below_the_baseline_at_two_seeds_are_worse_in_their_study():
    """Real runs of the default study (bench/default_study.py --keep-runs: split 2024, two
    seeds): every run of the two heavy-augmentation cells is far below every baseline run.
    With the study's pooled spread (six cells, 5 df, each cell's on its binomial scale) and
    Holm, both are 'worse'."""
    table = pd.read_csv(REPO / "bench" / "data" / "default_study_runs.csv.gz", dtype=str)
    table["right"] = (table["true"] == table["predicted"]).astype(float)
    runs = {cell: rows.pivot(index="seed", columns="image", values="right").sort_index()
            for cell, rows in table.groupby("cell")}  # fmt: skip
    baseline = "augmentation-none__dropout-none"
    cells = [baseline, *sorted(set(runs) - {baseline})]
    outcomes = [runs[cell].to_numpy() for cell in cells]
    assert all(o.shape == (2, 1300) for o in outcomes)
    heavy = [i for i, cell in enumerate(cells) if "heavy" in cell]
    for index in heavy:  # the situation: every run below every baseline run, by far
        assert outcomes[index].mean(axis=1).max() < outcomes[0].mean(axis=1).min() - 0.1
    block = np.array([o.mean(axis=1) for o in outcomes])
    pairs = [(o, outcomes[0]) for o in outcomes[1:]]
    results, rule = family(pairs, MIN_EFFECT, block=block, rows=range(1, 6), keep=0)
    assert "Holm over 5 comparisons" in rule and "(6 cells, 5 df;" in rule
    for index in heavy:
        assert results[index - 1].verdict == WORSE, results[index - 1]


def hand_computed(scores, reference):
    """The comparison's variance, degrees of freedom and interval written out term by term
    (the formula of ablate.results.verdicts, computed here with plain loops)."""
    seeds, images = len(scores), len(scores[0])

    def variance(values):
        mean = sum(values) / len(values)
        return sum((v - mean) ** 2 for v in values) / (len(values) - 1)

    contrast = [[s - r for s, r in zip(run_s, run_r, strict=True)]
                for run_s, run_r in zip(scores, reference, strict=True)]  # fmt: skip
    # independent per-image flips of the difference: per-image variance over seeds, summed
    flips = sum(variance([run[i] for run in contrast]) for i in range(images)) / images**2
    per_seed = max(variance([sum(run) / images for run in contrast]), flips)
    per_image = [sum(run[i] for run in contrast) / seeds for i in range(images)]
    test_set = max(variance(per_image) / images - flips / seeds, 0)
    total = per_seed / seeds + test_set
    df = total**2 / ((per_seed / seeds) ** 2 / (seeds - 1) + test_set**2 / (images - 1))
    return total, df, per_seed, test_set


def test_the_comparison_follows_its_formula_term_by_term():
    from scipy import stats

    from ablate.results.verdicts import _variance, seeds_needed

    rng = np.random.default_rng(5)
    difficulty = rng.normal(1.0, 1.0, size=40)
    scores = simulated_runs(rng, difficulty, 3, shift=0.3, shift_sd=0.5)
    reference = simulated_runs(rng, difficulty, 3, shift_sd=0.05)  # flips exceed its spread
    total, df, per_seed, test_set = hand_computed(scores.tolist(), reference.tolist())
    found = _variance(scores, reference)
    assert (found.total, found.df, found.per_seed, found.floor) == pytest.approx(
        (total, df, per_seed, test_set), rel=1e-12
    )
    assert test_set > 0 and 2 < df < 40  # every part of the formula is in play
    result = compare(scores, reference, MIN_EFFECT)
    difference = (scores - reference).mean()
    half = stats.t.ppf(0.975, df) * total**0.5
    assert (result.ci_low, result.ci_high) == pytest.approx((difference - half, difference + half))
    assert result.p_value == pytest.approx(2 * stats.t.sf(abs(difference) / total**0.5, df))
    # Seed advice (Colas et al. 2018): the fewest seeds for 80 % power at a two-sided 5 % t
    # test with n - 1 degrees of freedom.
    expected = next(n for n in range(2, 101)
                    if (per_seed / n + test_set) ** 0.5
                    * (stats.t.ppf(0.975, n - 1) + stats.t.ppf(0.8, n - 1)) <= 0.2)  # fmt: skip
    assert seeds_needed(found, 0.2) == expected
    assert seeds_needed(found, 0.001) is None  # the test set alone is too noisy for that


def test_one_seed_and_identical_runs_have_the_variance_they_should():
    from ablate.results.verdicts import _variance

    one = _variance(np.array([[1.0, 0.0, 1.0, 1.0]]), np.array([[0.0, 0.0, 1.0, 0.0]]))
    per_image = np.array([1.0, 0.0, 0.0, 1.0])
    assert one.total == pytest.approx(per_image.var(ddof=1) / 4) == one.floor
    assert one.df == 3 and np.isnan(one.per_seed)
    same = _variance(np.ones((2, 5)), np.ones((2, 5)))
    assert (same.total, same.df, same.per_seed, same.floor) == (0.0, np.inf, 0.0, 0.0)


def test_probability_of_improvement_counts_pairs_of_runs_ties_half():
    from ablate.results.verdicts import probability_of_improvement

    assert probability_of_improvement([0.9, 0.7], [0.8, 0.6]) == 0.75  # 3 of 4 pairs
    assert probability_of_improvement([0.8, 0.8], [0.8, 0.7]) == 0.75  # a tie counts half
    assert probability_of_improvement([0.5], [0.6, 0.7, 0.4]) == pytest.approx(1 / 3)


def test_macro_f1_gives_absent_classes_zero_as_scikit_learn_does():
    true = np.array([0, 0, 1, 1, 2, 2])
    predicted = np.array([0, 1, 1, 1, 1, 0])  # class 2 never predicted, class 3 nowhere
    expected = f1_score(true, predicted, labels=[0, 1, 2, 3], average="macro", zero_division=0)
    interval = macro_f1_interval(np.tile(true, (2, 1)), np.tile(predicted, (2, 1)), 4)
    assert interval.estimate == pytest.approx(expected)


@pytest.mark.parametrize(
    ("difference", "low", "high", "p_value", "improvement", "verdict"),
    [
        (0.001, -0.005, 0.005, 0.6, 0.5, NO_DIFFERENCE),  # the interval just within the margin
        (0.001, -0.0051, 0.005, 0.6, 0.5, UNDECIDED),
        (0.001, -0.005, 0.0051, 0.6, 0.5, UNDECIDED),
        (0.02, 0.01, 0.03, 0.01, 0.75, BETTER),  # P(improvement) at the threshold decides
        (0.02, 0.01, 0.03, 0.01, 0.74, UNDECIDED),
        (0.02, 0.01, 0.03, 0.05, 1.0, UNDECIDED),  # p must be below 0.05
        (0.02, 0.01, 0.03, 0.01, 0.25, UNDECIDED),  # significant up, but runs mostly lose
        (-0.02, -0.03, -0.01, 0.01, 0.25, WORSE),
        (-0.02, -0.03, -0.01, 0.01, 0.26, UNDECIDED),
        (-0.02, -0.03, -0.01, 0.01, 0.75, UNDECIDED),
        (0.0, -0.03, 0.03, 0.01, 0.25, UNDECIDED),
        (0.9, 0.5, 1.0, 0.001, 0.0, UNDECIDED),
    ],
)
def test_the_verdict_rule_at_its_boundaries(difference, low, high, p_value, improvement, verdict):
    from ablate.results.verdicts import decide

    assert decide(3, difference, low, high, p_value, improvement, 0.005)[0] == verdict


def test_one_seed_says_why_it_decides_nothing():
    from ablate.results.verdicts import decide

    assert decide(1, -0.5, -0.6, -0.4, 1e-9, 0.0, 0.005) == (
        UNDECIDED,
        "one seed: training randomness cannot be told from a real difference "
        "(add seeds; the p-value is McNemar-like, test images only)",
    )


def test_seed_advice_is_given_for_undecided_comparisons_only():
    from ablate.results.verdicts import _Variance, seeds_needed

    rng = np.random.default_rng(8)
    difficulty = rng.normal(2.0, 1.0, size=3000)
    two = compare(simulated_runs(rng, difficulty, 2, 0.02, 0.2),
                  simulated_runs(rng, difficulty, 2, 0.0, 0.2), 0.02)  # fmt: skip
    assert two.verdict == UNDECIDED and two.seeds_needed is not None  # two seeds suffice to ask
    clear = compare(simulated_runs(rng, difficulty, 5, 1.5, 0.05),
                    simulated_runs(rng, difficulty, 5, 0.0, 0.05), 0.02)  # fmt: skip
    assert clear.verdict == BETTER and clear.seeds_needed is None
    from scipy import stats

    needed_se = 0.02 / (stats.norm.ppf(0.975) + stats.norm.ppf(0.8))
    # A tiny seed spread still asks for two seeds; no room left at all means no number.
    two_seeds = {"seed_df": 1.0, "seeds": 2}
    assert seeds_needed(_Variance(1.0, 10.0, 1e-12, 0.0, **two_seeds), 0.02) == 2
    assert seeds_needed(_Variance(1.0, 10.0, 1e-4, needed_se**2, **two_seeds), 0.02) is None
