import itertools
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from synthetic import IMAGES, outcomes_of

from ablate import status
from ablate.results.effects import EFFECT_COLUMNS, MEAN_COLUMNS, factor_effects, level_means
from ablate.results.statistics import (
    COMPARISON_COLUMNS,
    cell_statistics,
    compare_with_baseline,
    mean_ci,
    seed_advice,
    with_test_set_intervals,
)

SEEDS = [1, 2, 3, 4, 5]
SEED_NOISE = {1: 0.004, 2: -0.003, 3: 0.001, 4: -0.006, 5: 0.002}


def make_runs(levels, accuracy, seeds=SEEDS):
    """One ok run per combination of ``levels`` ({factor: [level, ...]}) and seed, laid out as
    the aggregate step does; ``accuracy(cell_levels, seed)`` gives test_accuracy."""
    rows = []
    for combo in itertools.product(*levels.values()):
        chosen = dict(zip(levels, combo, strict=True))
        cell = "_".join(f"{f}-{lv}" for f, lv in chosen.items()) or "baseline"
        for seed in seeds:
            value = accuracy(chosen, seed)
            rows.append(
                {"study": "s", "cell": cell, **chosen, "seed": seed, "status": "ok",
                 "test_accuracy": value, "test_loss": 1 - value, "test_macro_f1": value - 0.1,
                 "best_epoch": 3, "epochs_run": 5, "train_seconds": 10.0 + seed,
                 "images_per_second": 100.0}
            )  # fmt: skip
    return pd.DataFrame(rows)


def fail(runs, cell, seed):
    runs = runs.copy()
    row = (runs["cell"] == cell) & (runs["seed"] == seed)
    runs.loc[row, "status"] = "failed"
    metrics = ["test_accuracy", "test_loss", "test_macro_f1", "best_epoch", "train_seconds"]
    runs.loc[row, metrics] = np.nan
    return runs


def t_interval(values):
    """Independent reference: mean +- t_{0.975, n-1} * s / sqrt(n)."""
    values = np.asarray(values, dtype=float)
    n = len(values)
    half = stats.t.ppf(0.975, n - 1) * values.std(ddof=1) / np.sqrt(n)
    return values.mean() - half, values.mean() + half


def row(frame, **where):
    mask = np.logical_and.reduce([frame[k] == v for k, v in where.items()])
    assert mask.sum() == 1, where
    return frame[mask].iloc[0]


# mean_ci


def test_mean_ci_is_the_t_interval():
    summary = mean_ci([0.80, 0.82, 0.85, 0.79])
    assert summary.n == 4
    assert summary.mean == pytest.approx(0.815)
    assert summary.std == pytest.approx(math.sqrt(0.0021 / 3))  # squared deviations sum 0.0021
    # t_{0.975,3} = 3.182446; half-width = 3.182446 * 0.0264575 / 2 = 0.0420995
    assert summary.ci_low == pytest.approx(0.7729005, abs=1e-6)
    assert summary.ci_high == pytest.approx(0.8570995, abs=1e-6)
    assert (summary.ci_low, summary.ci_high) == pytest.approx(t_interval([0.80, 0.82, 0.85, 0.79]))


def test_mean_ci_ignores_nan_and_unpacks_as_a_tuple():
    mean, std, n, low, high = mean_ci(pd.Series([1.0, np.nan, 3.0]))
    assert (mean, n) == (2.0, 2)
    assert std == pytest.approx(math.sqrt(2))
    # t_{0.975,1} = 12.7062; half-width = 12.7062 * sqrt(2) / sqrt(2)
    assert (low, high) == pytest.approx((2 - 12.7062047, 2 + 12.7062047))


def test_mean_ci_with_fewer_than_two_values_is_nan_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        one = mean_ci([0.7])
        none = mean_ci([])
        only_nan = mean_ci([np.nan, np.nan])
    assert one.mean == 0.7 and one.n == 1
    assert all(math.isnan(v) for v in (one.std, one.ci_low, one.ci_high))
    assert none.n == 0 and only_nan.n == 0
    assert all(math.isnan(v) for v in (none.mean, none.std, none.ci_low, none.ci_high))


def test_mean_ci_of_constant_values_collapses():
    summary = mean_ci([0.52 - 0.50, 0.62 - 0.60, 0.72 - 0.70])  # equal up to rounding
    assert summary.std == 0.0
    assert summary.ci_low == summary.ci_high == summary.mean == pytest.approx(0.02)


# cell_statistics


def test_cell_statistics_per_cell_in_first_appearance_order():
    runs = make_runs({"reg": ["none", "dropout"]}, lambda c, s: 0.6 + SEED_NOISE[s])
    runs = pd.concat([runs[runs["reg"] == "dropout"], runs[runs["reg"] == "none"]])
    runs = fail(runs, "reg-dropout", 2)
    table = cell_statistics(runs, ["reg"], metrics=("test_accuracy", "train_seconds"))
    assert list(table.columns) == [
        "cell", "reg", "n", "failed", "not_run",
        "test_accuracy_mean", "test_accuracy_std", "test_accuracy_ci_low", "test_accuracy_ci_high",
        "train_seconds_mean", "train_seconds_std", "train_seconds_min", "train_seconds_max",
    ]  # fmt: skip
    assert list(table["cell"]) == ["reg-dropout", "reg-none"]
    assert list(table["reg"]) == ["dropout", "none"]
    assert list(table["n"]) == [4, 5]
    assert list(table["failed"]) == [1, 0]
    assert list(table["not_run"]) == [0, 0]
    dropout = table.iloc[0]
    kept = [0.604, 0.601, 0.594, 0.602]  # seed 2 failed
    assert dropout["test_accuracy_mean"] == pytest.approx(0.60025)
    assert dropout["test_accuracy_std"] == pytest.approx(np.std(kept, ddof=1))
    low, high = t_interval(kept)
    assert dropout["test_accuracy_ci_low"] == pytest.approx(low)
    assert dropout["test_accuracy_ci_high"] == pytest.approx(high)
    assert dropout["train_seconds_mean"] == pytest.approx((11 + 13 + 14 + 15) / 4)
    none = table.iloc[1]
    assert none["train_seconds_mean"] == pytest.approx(13.0)
    # seconds 11..15: their range over seeds, not a t interval (which at two seeds can
    # reach below zero)
    assert (none["train_seconds_min"], none["train_seconds_max"]) == (11, 15)


def test_cell_statistics_count_runs_not_run_yet_apart_from_failed_ones():
    runs = make_runs({"reg": ["none", "dropout"]}, lambda c, s: 0.6 + SEED_NOISE[s])
    runs = fail(runs, "reg-dropout", 2)
    later = (runs["cell"] == "reg-none") & runs["seed"].isin([4, 5])
    runs.loc[later, "status"] = "not_run"  # a partial study: no result files yet
    runs.loc[later, "test_accuracy"] = np.nan
    table = cell_statistics(runs, ["reg"]).set_index("cell")
    assert table.loc["reg-none", ["n", "failed", "not_run"]].tolist() == [3, 0, 2]
    assert table.loc["reg-dropout", ["n", "failed", "not_run"]].tolist() == [4, 1, 0]


def test_cell_statistics_default_metrics_and_no_factors():
    runs = make_runs({}, lambda c, s: 0.5 + SEED_NOISE[s])
    table = cell_statistics(runs, [])
    assert list(table.columns[:4]) == ["cell", "n", "failed", "not_run"]
    assert len(table.columns) == 4 + 6 * 4
    assert table.loc[0, "cell"] == "baseline"
    assert table.loc[0, "test_accuracy_mean"] == pytest.approx(0.4996)
    assert table.loc[0, "best_epoch_std"] == 0.0


# compare_with_baseline

MIN_EFFECT = 0.005


def compare(runs, baseline, **kwargs):
    return compare_with_baseline(runs, baseline, outcomes_of(runs), MIN_EFFECT, **kwargs)


def effects_of(runs, factors, baseline):
    return factor_effects(runs, factors, baseline, outcomes_of(runs), MIN_EFFECT)


BASE = "reg-none"
NOISE = {1: 0.001, 2: -0.002, 3: 0.0015, 4: -0.0005, 5: 0.0}  # sums to 0


def improved_runs():
    def accuracy(levels, seed):
        value = 0.7 + SEED_NOISE[seed]
        return value + 0.02 + NOISE[seed] if levels["reg"] == "dropout" else value

    return make_runs({"reg": ["none", "dropout"]}, accuracy)


def test_a_clear_improvement_is_better_with_its_paired_interval():
    table = compare(improved_runs(), BASE)
    assert list(table.columns) == ["cell", "reg", *COMPARISON_COLUMNS]
    result = table.iloc[0]
    assert (result["cell"], result["reg"], result["n_pairs"]) == ("reg-dropout", "dropout", 5)
    assert result["difference"] == pytest.approx(0.02, abs=1 / IMAGES)
    assert result["ci_low"] < result["difference"] < result["ci_high"]
    assert result["ci_low"] > 0.01 and result["ci_high"] < 0.03
    assert result["p_value"] < 1e-4 and result["prob_improvement"] == 1.0
    assert (result["verdict"], result["seeds_needed"]) == ("better", None)
    assert (
        result["verdict_reason"].startswith("p = ")
        and "P(improvement) = 1.00" in (result["verdict_reason"])
    )
    # A small, noisy difference: undecided, with the seeds that would decide it.
    noisy = {1: 0.01, 2: -0.012, 3: 0.004, 4: -0.002, 5: 0.0}

    def accuracy(levels, seed):
        return 0.7 + (noisy[seed] + 0.003 if levels["reg"] == "dropout" else 0)

    runs = make_runs({"reg": ["none", "dropout"]}, accuracy)
    unsure = compare_with_baseline(runs, BASE, outcomes_of(runs), 0.01).iloc[0]
    assert unsure["verdict"] == "undecided" and unsure["verdict_reason"].startswith("p = ")
    # tells a 1-point difference at 80 % power: 6 with normal quantiles, 9 with t quantiles
    assert unsure["seeds_needed"] == 9


def test_identical_cells_have_no_difference_without_warnings():
    runs = make_runs({"reg": ["none", "dropout"]}, lambda c, s: 0.7 + SEED_NOISE[s])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = compare(runs, BASE).iloc[0]
    assert result["difference"] == 0.0 and result["ci_low"] == result["ci_high"] == 0.0
    assert result["p_value"] == 1.0 and result["prob_improvement"] == 0.5
    assert result["verdict"] == "no difference"


def test_failed_runs_drop_their_seeds_from_the_pairs():
    runs = fail(fail(improved_runs(), "reg-dropout", 2), BASE, 4)
    result = compare(runs, BASE).iloc[0]
    assert result["n_pairs"] == 3
    kept = [0.02 + NOISE[s] for s in (1, 3, 5)]
    assert result["difference"] == pytest.approx(np.mean(kept), abs=1 / IMAGES)


def test_a_cell_whose_runs_all_failed_has_no_pairs():
    runs = improved_runs()
    for seed in SEEDS:
        runs = fail(runs, "reg-dropout", seed)
    result = compare(runs, BASE).iloc[0]
    assert result["n_pairs"] == 0
    assert math.isnan(result["difference"]) and math.isnan(result["p_value"])
    assert result["verdict"] == "undecided" and "no seed" in result["verdict_reason"]


def test_compare_with_explicit_factors_and_a_design_without_the_baseline():
    table = compare(improved_runs(), BASE, factors=[])
    assert list(table.columns) == ["cell", *COMPARISON_COLUMNS]
    # A list design may leave the baseline cell out: every cell is compared with nothing.
    unpaired = compare(improved_runs(), "no-such-cell")
    assert len(unpaired) == 2 and (unpaired["n_pairs"] == 0).all()
    assert unpaired["difference"].isna().all() and (unpaired["verdict"] == "undecided").all()


def test_test_set_intervals_replace_the_seed_intervals_of_accuracy_and_f1():
    runs = improved_runs()
    cells = with_test_set_intervals(cell_statistics(runs, ["reg"]), outcomes_of(runs))
    for metric in ("test_accuracy", "test_macro_f1"):
        low, high = cells[f"{metric}_ci_low"], cells[f"{metric}_ci_high"]
        assert ((low >= 0) & (low < high) & (high <= 1)).all(), metric
    # Five seeds within a point of 0.70 on 1,000 images: about +/- 3 points.
    width = cells["test_accuracy_ci_high"] - cells["test_accuracy_ci_low"]
    assert ((width > 0.04) & (width < 0.08)).all(), width
    assert (cells["test_interval_note"] == "").all()
    one_seed = runs[runs["seed"] == 1]
    single = with_test_set_intervals(cell_statistics(one_seed, ["reg"]), outcomes_of(one_seed))
    assert (single["test_interval_note"] == "one seed: test-set uncertainty only").all()
    assert (single["test_accuracy_ci_low"] < single["test_accuracy_mean"]).all()


def test_seed_advice_for_undecided_comparisons():
    summary = pd.DataFrame({
        "cell": ["base", "a", "b", "c", "d"], "baseline": [True, False, False, False, False],
        "vs_baseline_verdict": ["", "undecided", "undecided", "undecided", "better"],
        "vs_baseline_n_pairs": [0, 3, 3, 1, 3],
        "vs_baseline_seeds_needed": [None, 6, None, 4788, None],
    })  # fmt: skip
    advice = seed_advice(summary, 0.005, 270).tolist()
    assert advice[0] == "" and advice[4] == ""
    assert advice[1] == "about 6 seeds would tell a 0.5-point difference"
    assert advice[2] == (
        "no number of seeds tells a 0.5-point difference on 270 test images; "
        "only a larger test split can"
    )
    assert advice[3] == "needs at least 2 seeds in both cells to be decided"  # one pair
    summary.loc[3, "vs_baseline_n_pairs"] = 3
    assert seed_advice(summary, 0.005, 270)[3] == (
        "more than 100 seeds would be needed to tell a 0.5-point difference"
    )
    summary.loc[3, "vs_baseline_seeds_needed"] = 100  # the last number still given
    assert (
        seed_advice(summary, 0.005, 270)[3] == "about 100 seeds would tell a 0.5-point difference"
    )


# factor_effects


def additive_2x2(seed_noise=SEED_NOISE, cell_noise=None):
    def accuracy(levels, seed):
        a, b = levels["aug"] == "geometric", levels["reg"] == "dropout"
        value = 0.5 + 0.1 * a + 0.05 * b + 0.03 * a * b + seed_noise[seed]
        return value + (cell_noise[(levels["aug"], levels["reg"], seed)] if cell_noise else 0)

    return make_runs({"aug": ["none", "geometric"], "reg": ["none", "dropout"]}, accuracy)


BASELINE_2X2 = {"aug": "none", "reg": "none"}


def test_2x2_main_effects_and_interaction_are_exact():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        effects = effects_of(additive_2x2(), ["aug", "reg"], BASELINE_2X2)
    assert list(effects.columns) == EFFECT_COLUMNS
    assert list(effects["term"]) == ["main", "main", "interaction"]
    aug = row(effects, term="main", factor_a="aug")
    assert aug["level_a"] == "geometric" and pd.isna(aug["factor_b"]) and pd.isna(aug["level_b"])
    assert aug["reference"] == "vs aug=none"
    assert aug["estimate"] == pytest.approx(0.1 + 0.03 / 2, abs=1 / IMAGES)
    reg = row(effects, term="main", factor_a="reg")
    assert reg["estimate"] == pytest.approx(0.05 + 0.03 / 2, abs=1 / IMAGES)
    interaction = row(effects, term="interaction")
    assert (interaction["factor_a"], interaction["level_a"]) == ("aug", "geometric")
    assert (interaction["factor_b"], interaction["level_b"]) == ("reg", "dropout")
    assert interaction["reference"] == "interaction vs aug=none, reg=none"
    assert interaction["estimate"] == pytest.approx(0.03, abs=1 / IMAGES)
    assert list(effects["n_seeds"]) == [5, 5, 5]
    assert (effects["ci_low"] < effects["estimate"]).all()
    assert (effects["estimate"] < effects["ci_high"]).all()
    assert effects["verdict"].tolist()[:2] == ["better", "better"]


def test_effects_with_cell_noise_follow_the_per_seed_contrasts():
    rng = np.random.default_rng(0)
    combos = itertools.product(["none", "geometric"], ["none", "dropout"], SEEDS)
    cell_noise = {key: rng.normal(0, 0.005) for key in combos}
    effects = effects_of(additive_2x2(cell_noise=cell_noise), ["aug", "reg"], BASELINE_2X2)

    def e(a, b):
        return np.array([cell_noise[(a, b, s)] for s in SEEDS])

    main_aug = 0.115 + (e("geometric", "none") + e("geometric", "dropout")) / 2
    main_aug -= (e("none", "none") + e("none", "dropout")) / 2
    inter = 0.03 + e("geometric", "dropout") - e("geometric", "none") - e("none", "dropout")
    inter += e("none", "none")
    for result, expected in [(row(effects, term="main", factor_a="aug"), main_aug),
                             (row(effects, term="interaction"), inter)]:  # fmt: skip
        assert result["estimate"] == pytest.approx(expected.mean(), abs=2 / IMAGES)
        assert result["ci_low"] < expected.mean() < result["ci_high"]
    assert row(effects, term="main", factor_a="aug")["p_value"] < 1e-4


def test_2x3_grid_with_a_non_first_baseline_level():
    bonus = {"none": 0.0, "dropout": 0.02, "l2": 0.04}
    inter = {("geometric", "dropout"): 0.01, ("geometric", "l2"): -0.03}

    def accuracy(levels, seed):
        a, b = levels["aug"], levels["reg"]
        return 0.5 + 0.1 * (a == "geometric") + bonus[b] + inter.get((a, b), 0) + SEED_NOISE[seed]

    runs = make_runs({"aug": ["none", "geometric"], "reg": ["dropout", "none", "l2"]}, accuracy)
    effects = effects_of(runs, ["aug", "reg"], {"aug": "none", "reg": "none"})
    assert list(effects["term"]) == ["main"] * 3 + ["interaction"] * 2
    assert list(effects["level_a"]) == ["geometric", "dropout", "l2", "geometric", "geometric"]
    assert list(effects["level_b"].iloc[3:]) == ["dropout", "l2"]
    close = {"abs": 1.5 / IMAGES}
    assert row(effects, term="main", factor_a="aug")["estimate"] == pytest.approx(
        0.1 - 0.02 / 3, **close
    )
    for level in ("dropout", "l2"):
        assert row(effects, factor_a="reg", level_a=level)["estimate"] == pytest.approx(
            0.025, **close
        )
    assert row(effects, term="interaction", level_b="dropout")["estimate"] == pytest.approx(
        0.01, **close
    )
    assert row(effects, term="interaction", level_b="l2")["estimate"] == pytest.approx(
        -0.03, **close
    )


def test_three_factors_interactions_average_over_the_third():
    def accuracy(levels, seed):
        a, b, c = (levels[f] == "on" for f in "abc")
        return 0.5 + 0.1 * a + 0.05 * b + 0.02 * c + 0.04 * a * b + SEED_NOISE[seed]

    runs = make_runs({f: ["off", "on"] for f in "abc"}, accuracy)
    effects = effects_of(runs, ["a", "b", "c"], dict.fromkeys("abc", "off"))
    assert len(effects) == 3 + 3
    assert row(effects, term="main", factor_a="a")["estimate"] == pytest.approx(0.12, abs=2e-3)
    assert row(effects, term="main", factor_a="c")["estimate"] == pytest.approx(0.02, abs=2e-3)
    pairs = {(r.factor_a, r.factor_b): r.estimate for r in effects.itertuples() if r.term != "main"}
    assert pairs == pytest.approx({("a", "b"): 0.04, ("a", "c"): 0.0, ("b", "c"): 0.0}, abs=2e-3)


def test_effects_use_only_seeds_where_every_cell_succeeded():
    runs = fail(fail(additive_2x2(), "aug-geometric_reg-dropout", 3), "aug-none_reg-none", 5)
    effects = effects_of(runs, ["aug", "reg"], BASELINE_2X2)
    assert list(effects["n_seeds"]) == [3, 3, 3]
    assert row(effects, term="interaction")["estimate"] == pytest.approx(0.03, abs=1 / IMAGES)


def test_each_effect_uses_every_seed_that_the_cells_it_weighs_share():
    """As an adaptive study leaves them: the l2 cells stopped after 3 seeds, the others
    trained on to 5. Contrasts that weigh no l2 cell use all 5 seeds; those that do, 3."""

    def accuracy(levels, seed):
        bonus = {"none": 0.0, "dropout": 0.02, "l2": 0.04}[levels["reg"]]
        return 0.5 + 0.1 * (levels["aug"] == "geometric") + bonus + SEED_NOISE[seed]

    runs = make_runs({"aug": ["none", "geometric"], "reg": ["none", "dropout", "l2"]}, accuracy)
    stopped = runs["cell"].str.endswith("reg-l2") & (runs["seed"] > 3)
    runs = runs[~stopped]
    effects = effects_of(runs, ["aug", "reg"], {"aug": "none", "reg": "none"})
    seeds = {(r.term, r.level_a, r.level_b if r.term != "main" else None): r.n_seeds
             for r in effects.itertuples()}  # fmt: skip
    assert seeds == {("main", "geometric", None): 3, ("main", "dropout", None): 5,
                     ("main", "l2", None): 3, ("interaction", "geometric", "dropout"): 5,
                     ("interaction", "geometric", "l2"): 3}  # fmt: skip
    assert row(effects, factor_a="reg", level_a="dropout")["estimate"] == pytest.approx(
        0.02, abs=1.5 / IMAGES
    )


def test_one_at_a_time_grid_has_no_factorial_effects():
    runs = additive_2x2()
    runs = runs[runs["cell"] != "aug-geometric_reg-dropout"]  # baseline + one change per factor
    effects = effects_of(runs, ["aug", "reg"], BASELINE_2X2)
    assert effects.empty and list(effects.columns) == EFFECT_COLUMNS


def test_a_single_factor_grid_is_full():
    effects = effects_of(improved_runs(), ["reg"], {"reg": "none"})
    assert list(effects["term"]) == ["main"]
    assert effects.loc[0, "estimate"] == pytest.approx(0.02, abs=1 / IMAGES)


def test_a_study_without_factors():
    runs = make_runs({}, lambda c, s: 0.5 + SEED_NOISE[s])
    assert effects_of(runs, [], {}).empty
    assert list(effects_of(runs, [], {}).columns) == EFFECT_COLUMNS
    comparison = compare(runs, "baseline")
    assert comparison.empty and list(comparison.columns) == ["cell", *COMPARISON_COLUMNS]
    assert cell_statistics(runs, [])["n"].tolist() == [5]


def test_a_grid_without_the_baseline_level_has_no_effects():
    effects = effects_of(additive_2x2(), ["aug", "reg"], {"aug": "mixup", "reg": "none"})
    assert effects.empty and list(effects.columns) == EFFECT_COLUMNS


def test_one_seed_is_undecided_and_says_why_without_warnings():
    runs = additive_2x2()
    runs = runs[runs["seed"] == 1]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cells = cell_statistics(runs, ["aug", "reg"])
        comparison = compare(runs, "aug-none_reg-none")
        effects = effects_of(runs, ["aug", "reg"], BASELINE_2X2)
    assert (cells["n"] == 1).all()
    assert cells["test_accuracy_std"].isna().all()
    assert cells["test_accuracy_mean"].tolist() == pytest.approx([0.504, 0.554, 0.604, 0.684])
    assert (comparison["n_pairs"] == 1).all()
    assert comparison["difference"].tolist() == pytest.approx([0.05, 0.1, 0.18], abs=1e-3)
    assert (comparison["verdict"] == "undecided").all()
    assert comparison["verdict_reason"].str.startswith("one seed").all()
    assert comparison["p_value"].lt(1e-6).all()  # McNemar-like: the test images alone
    assert effects["estimate"].tolist() == pytest.approx([0.115, 0.065, 0.03], abs=1e-3)
    assert (effects["verdict"] == "undecided").all()


@pytest.mark.parametrize("outcome", [status.FAILED, status.NOT_RUN])
def test_runs_that_did_not_succeed_count_nowhere_even_with_metrics(outcome):
    runs = improved_runs()
    chosen = (runs["cell"] == "reg-dropout") & (runs["seed"] == 1)
    runs.loc[chosen, "status"] = outcome  # its metrics were written anyway
    assert compare(runs, BASE).loc[0, "n_pairs"] == 4
    table = cell_statistics(runs, ["reg"])
    assert table["n"].tolist() == [5, 4] and table[outcome].tolist() == [0, 1]
    assert level_means(runs, ["reg"], outcomes_of(runs))["n_seeds"].tolist() == [5, 4]


# level_means


def test_level_means_average_equal_weight_cells_over_shared_seeds():
    def accuracy(levels, seed):
        a, b, c = (levels[f] == "on" for f in "abc")
        return 0.5 + 0.1 * a + 0.05 * b + 0.02 * c + 0.04 * a * b + SEED_NOISE[seed]

    runs = make_runs({f: ["off", "on"] for f in "abc"}, accuracy)
    runs = fail(runs, "a-on_b-on_c-on", 5)
    means = level_means(runs, ["a", "b", "c"], outcomes_of(runs))
    assert list(means.columns) == MEAN_COLUMNS
    assert means["term"].tolist() == ["level"] * 6 + ["pair"] * 12
    # a=on: per seed the mean of its four cells; seed 5 is out (one of them failed)
    per_seed = [0.6 + 0.025 + 0.01 + 0.02 + SEED_NOISE[seed] for seed in SEEDS[:4]]
    a_on = row(means, term="level", factor_a="a", level_a="on")
    assert a_on["n_seeds"] == 4 and pd.isna(a_on["factor_b"])
    assert a_on["mean"] == pytest.approx(np.mean(per_seed), abs=1 / IMAGES)
    assert 0 <= a_on["ci_low"] < a_on["mean"] < a_on["ci_high"] <= 1
    # a pair averages over the third factor; b=off does not involve the failed cell
    pair = row(means, term="pair", factor_a="a", level_a="on", factor_b="b", level_b="off")
    per_seed = [0.6 + 0.01 + SEED_NOISE[seed] for seed in SEEDS]
    assert pair["n_seeds"] == 5 and pair["mean"] == pytest.approx(np.mean(per_seed), abs=1e-3)


def test_level_means_of_two_factors_pair_up_as_the_cells_statistics():
    runs = fail(additive_2x2(), "aug-geometric_reg-dropout", 3)
    outcomes = outcomes_of(runs)
    pairs = level_means(runs, ["aug", "reg"], outcomes).query("term == 'pair'")
    cells = with_test_set_intervals(cell_statistics(runs, ["aug", "reg"]), outcomes)
    assert pairs["mean"].tolist() == pytest.approx(cells["test_accuracy_mean"].tolist(), abs=1e-3)
    assert pairs["ci_low"].tolist() == cells["test_accuracy_ci_low"].tolist()
    assert pairs["n_seeds"].tolist() == cells["n"].tolist()


def test_level_means_leave_out_pairs_the_design_lacks():
    runs = additive_2x2()
    runs = runs[runs["cell"] != "aug-geometric_reg-dropout"]  # one at a time
    outcomes = outcomes_of(runs)
    means = level_means(runs, ["aug", "reg"], outcomes)
    assert len(means.query("term == 'pair'")) == 3
    assert level_means(runs, [], outcomes).empty
    assert list(level_means(runs, [], outcomes).columns) == MEAN_COLUMNS


def test_verdict_lines_say_each_cells_verdict_interval_and_advice():
    from ablate.results.statistics import verdict_lines

    summary = pd.DataFrame({
        "cell": ["base", "a", "b"], "baseline": [True, False, False],
        "vs_baseline_difference": [np.nan, -0.0123, np.nan],
        "vs_baseline_ci_low": [np.nan, -0.05, np.nan],
        "vs_baseline_ci_high": [np.nan, 0.02, np.nan],
        "vs_baseline_prob_improvement": [np.nan, 0.25, np.nan],
        "vs_baseline_verdict": ["", "undecided", "undecided"],
        "vs_baseline_verdict_reason": ["", "p = 0.3", "no seed finished in both cells"],
        "vs_baseline_advice": ["", "about 6 seeds would tell a 0.5-point difference", ""],
    })  # fmt: skip
    assert verdict_lines(summary) == [
        "a vs baseline: undecided, -0.012 [-0.050, +0.020], P(improvement) 0.25; "
        "about 6 seeds would tell a 0.5-point difference",
        "b vs baseline: undecided (no seed finished in both cells)",
    ]
    summary.loc[1, "vs_baseline_advice"] = ""
    assert verdict_lines(summary)[0].endswith("P(improvement) 0.25")
    summary["stopped_because"] = ["", "stopped undecided after 2 seed(s): ...", "why b"]
    assert verdict_lines(summary)[0].endswith(
        "P(improvement) 0.25 [stopped undecided after 2 seed(s): ...]"
    )


def test_test_set_intervals_are_each_cells_own_over_seeds_and_images():
    from ablate.results.intervals import cell_interval, macro_f1_interval

    runs = fail(improved_runs(), "reg-dropout", 2)
    outcomes = outcomes_of(runs)
    cells = with_test_set_intervals(cell_statistics(runs, ["reg"]), outcomes).set_index("cell")
    seeds = [1, 3, 4, 5]
    accuracy = cell_interval(outcomes.correct("reg-dropout", seeds))
    f1 = macro_f1_interval(
        np.tile(outcomes.true, (4, 1)), outcomes.predictions("reg-dropout", seeds), 2
    )
    row = cells.loc["reg-dropout"]
    assert (row["test_accuracy_ci_low"], row["test_accuracy_ci_high"]) == (
        accuracy.low, accuracy.high
    )  # fmt: skip
    assert (row["test_macro_f1_ci_low"], row["test_macro_f1_ci_high"]) == (f1.low, f1.high)
    # the other values keep their range over the finished seeds
    losses = status.ok(runs).query("cell == 'reg-dropout'")["test_loss"]
    assert (row["test_loss_min"], row["test_loss_max"]) == (losses.min(), losses.max())


def test_a_cell_without_finished_runs_keeps_empty_intervals_and_the_next_gets_its_own():
    runs = improved_runs()
    for seed in SEEDS:
        runs = fail(runs, BASE, seed)  # the first cell has no finished run
    from ablate.results.intervals import cell_interval

    outcomes = outcomes_of(runs)
    cells = with_test_set_intervals(cell_statistics(runs, ["reg"]), outcomes)
    assert cells["test_interval_note"].tolist() == ["", ""]
    assert cells["test_accuracy_ci_low"].isna().tolist() == [True, False]
    crossed = cell_interval(outcomes.correct("reg-dropout"))
    assert cells.loc[1, "test_accuracy_ci_low"] == crossed.low  # not the t interval


def test_verdict_lines_go_on_after_a_cell_without_a_comparison():
    from ablate.results.statistics import verdict_lines

    summary = pd.DataFrame({
        "cell": ["x", "y"], "baseline": [False, False],
        "vs_baseline_difference": [np.nan, 0.01], "vs_baseline_ci_low": [np.nan, 0.0],
        "vs_baseline_ci_high": [np.nan, 0.02], "vs_baseline_prob_improvement": [np.nan, 1.0],
        "vs_baseline_verdict": ["undecided", "better"],
        "vs_baseline_verdict_reason": ["no seed finished in both cells", "p = 0.01"],
        "vs_baseline_advice": ["", ""],
    })  # fmt: skip
    lines = verdict_lines(summary)
    assert len(lines) == 2 and lines[1].startswith("y vs baseline: better, +0.010")
