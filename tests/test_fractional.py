"""Fractional factorial (2^(k-p), Box & Hunter 1961) and screening (Plackett & Burman 1946)
designs: the cells they plan, the config mistakes they refuse, and the effects a stand-in
scorer (accuracy a known function of the factors plus noise) lets them recover."""

import itertools
import re
from fractions import Fraction

import numpy as np
import pandas as pd
import pydoe
import pytest
from conftest import planned_jobs, snakemake, tiny_config, write_config
from synthetic import IMAGES, outcomes_of

from ablate import fractional
from ablate.config import resolve_study
from ablate.design import ConfigError, baseline_levels, cell_name, expand_design
from ablate.results.effects import EFFECT_COLUMNS, factor_effects
from ablate.results.statistics import compare_with_baseline

MIN_EFFECT = 0.005
SEEDS = [1, 2, 3, 4, 5]


def factors(count, levels=("lo", "hi")):
    return {f"f{i}": {level: {} for level in levels} for i in range(count)}


def design(count, kind="fractional", resolution=None):
    chosen = factors(count)
    return expand_design(chosen, kind, baseline_levels(chosen, {}), None, resolution)


def signs_of(cells, names):
    """The cells as a runs x factors matrix: -1 for the first level ('lo'), +1 the second."""
    return np.array([[1 if cell[name] == "hi" else -1 for name in names] for cell in cells])


# Designs: run counts, resolution, level order


@pytest.mark.parametrize(
    ("count", "resolution", "runs", "found"),
    [(6, 4, 16, 4), (7, 3, 8, 3), (5, 5, 16, 5), (8, 4, 16, 4), (5, 3, 8, 3),
     (4, 3, 8, 4)],  # 8 runs carry 4 factors at resolution 4: the better one is taken
)  # fmt: skip
def test_fractional_designs_have_their_run_count_and_resolution(count, resolution, runs, found):
    cells = design(count, resolution=resolution)
    assert len(cells) == runs
    assert len({cell_name(cell) for cell in cells}) == runs
    signs = signs_of(cells, list(factors(count)))
    assert fractional.is_orthogonal(signs)
    assert fractional.shortest_word(signs, 6) == found  # the defining relation's shortest word


def test_levels_follow_pydoe_signs_first_level_low():
    cells = design(7, resolution=3)
    assert (signs_of(cells, list(factors(7))) == pydoe.fracfact_by_res(7, 3)).all()


def test_a_pydoe_design_below_the_asked_resolution_is_refused(monkeypatch):
    """pyDOE before 1.0 returned wrong resolutions: d = ab (resolution 3) for 4 factors at
    resolution 4 must never be trained."""
    monkeypatch.setattr(pydoe, "fracfact_by_res", lambda n, res: pydoe.fracfact("a b c ab"))
    with pytest.raises(ConfigError, match="pyDOE gave resolution 3, not 4"):
        design(4, resolution=4)
    # Nor is a better resolution at the same run count taken on pyDOE's word alone.
    claimed = {3: "a b c ab", 4: "a b c bc", 5: "a b c d"}
    monkeypatch.setattr(pydoe, "fracfact_by_res", lambda n, res: pydoe.fracfact(claimed[res]))
    signs = fractional.fractional_signs(4, 3)
    assert (signs[:, 3] == signs[:, 0] * signs[:, 1]).all()


@pytest.mark.parametrize(("count", "runs"), [(3, 4), (7, 8), (8, 12), (11, 12), (19, 20)])
def test_screening_designs_take_the_next_multiple_of_four_runs(count, runs):
    cells = design(count, "screening")
    assert len(cells) == runs
    assert fractional.is_orthogonal(signs_of(cells, list(factors(count))))


# Config mistakes


def study(count=6, **overrides):
    config = tiny_config(**{"design": "fractional", "resolution": 4, **overrides})
    config["factors"] = factors(count)
    config.pop("baseline")
    return config


def three_levels(config):
    config["factors"]["f2"]["mid"] = {}


def one_level(config):
    del config["factors"]["f3"]["hi"]


def screening_with_three_levels(config):
    config.update(design="screening", factors={"f0": {"a": {}, "b": {}, "c": {}}})
    del config["resolution"]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (three_levels, r"^config key 'factors\.f2': .* needs exactly two levels .* has 3 \(lo"),
        (one_level, r"^config key 'factors\.f3': .* has 1 \(lo\)"),
        (screening_with_three_levels, r"^config key 'factors\.f0': design 'screening'"),
        (lambda c: c.update(design="full"), r"^config key 'resolution': only with design "
                                           "'fractional', not 'full'"),
        (lambda c: c.pop("resolution"), r"^config key 'resolution': design 'fractional' needs"),
        (lambda c: c.update(resolution=6), r"^config key 'resolution': 6 is not one of"),
        (lambda c: c.update(factors=factors(24), design="screening", resolution=None),
         "^config key 'design': pyDOE has no Plackett-Burman design for 24"),
        (lambda c: c.update(factors=factors(1)), "^config key 'design': .*at least two factors"),
    ],
)  # fmt: skip
def test_fractional_config_mistakes_are_one_line_naming_the_key(change, expected):
    config = study()
    change(config)
    if config.get("resolution", 0) is None:
        del config["resolution"]
    with pytest.raises(ConfigError, match=expected) as raised:
        resolve_study(config)
    assert "\n" not in str(raised.value)


def test_a_fractional_study_resolves_without_its_baseline_cell():
    resolved = resolve_study(study(7, resolution=3))
    assert len(resolved.cells) == 8
    assert resolved.baseline == cell_name(dict.fromkeys(factors(7), "lo"))
    assert resolved.baseline not in resolved.cells


# Aliases


def test_aliases_up_to_two_factor_interactions_match_pydoe():
    names = list("abcdefg")
    signs = fractional.fractional_signs(7, 3)
    ours = fractional.aliases(signs, names)
    assert ours[("a",)] == "a = b:d = c:e = f:g"
    chains, _ = pydoe.fracfact_aliasing(signs)
    for chain in chains:
        words = [word for word in chain.split(" = ") if len(word) <= 2]
        if len(words) < 2:
            continue
        head, *rest = words
        expected = {":".join(word) for word in rest}
        found = ours[tuple(head)].split(" = ")
        assert set(word.lstrip("-") for word in found[1:]) == expected, chain


def test_aliases_carry_the_sign_of_the_coding_and_words_may_be_negative():
    """c = -ab: the defining relation is I = -abc, still resolution 3; the main effect of
    a (+1: its level that is not the baseline's) estimates a minus the b:c interaction."""
    signs = np.array([[a, b, -a * b] for a, b in itertools.product([-1, 1], repeat=2)])
    assert fractional.shortest_word(signs, 3) == 3
    assert fractional.aliases(signs, ["a", "b", "c"])[("a",)] == "a = -b:c"
    assert fractional.aliases(-signs, ["a", "b", "c"])[("a",)] == "a = b:c"


def test_resolution_decides_which_interactions_are_clear_of_main_effects():
    names = [f"f{i}" for i in range(6)]
    saturated = fractional.fractional_signs(7, 3)
    assert fractional.clear_of_main_effects(saturated, [*names, "f6"]) == set()
    res4 = fractional.fractional_signs(6, 4)
    assert fractional.clear_of_main_effects(res4, names) == set(itertools.combinations(names, 2))
    assert all(fractional.aliases(res4, names)[(name,)] == "" for name in names)
    assert fractional.aliases(res4, names)[("f0", "f1")].startswith("f0:f1 = ")
    res5 = fractional.fractional_signs(5, 5)
    assert set(fractional.aliases(res5, names[:5]).values()) == {""}


def test_plackett_burman_main_effects_are_partly_aliased_with_interactions():
    names = [f"f{i}" for i in range(11)]
    found = fractional.aliases(fractional.screening_signs(11), names)
    assert found[("f0",)] == "partly 45 two-factor interactions (|r| <= 1/3)"
    four = fractional.aliases(fractional.screening_signs(3), names[:3])
    assert re.fullmatch("f0 = -?f1:f2", four[("f0",)])  # 4 runs: a regular half fraction


# Effects from a stand-in scorer

TRUE_MAIN = {"f0": 0.04, "f1": -0.03, "f2": 0.0, "f3": 0.02, "f4": 0.0, "f5": -0.01}


def scored_runs(cells, accuracy, seeds=SEEDS, noise=0.004, seed=0):
    """An aggregate-like runs table for ``cells``: accuracy(levels) plus Gaussian noise per
    cell and seed (a stand-in for training), every run ok."""
    rng = np.random.default_rng(seed)
    rows = []
    for levels in cells:
        for run_seed in seeds:
            value = accuracy(levels) + rng.normal(0, noise)
            rows.append(
                {"study": "s", "cell": cell_name(levels), **levels, "seed": run_seed,
                 "status": "ok", "test_accuracy": value, "test_loss": 1 - value,
                 "test_macro_f1": value, "best_epoch": 3, "epochs_run": 5,
                 "train_seconds": 10.0, "images_per_second": 100.0}
            )  # fmt: skip
    return pd.DataFrame(rows)


def additive(levels, interactions=None):
    value = 0.6 + sum(effect for f, effect in TRUE_MAIN.items() if levels.get(f) == "hi")
    for (a, b), size in (interactions or {}).items():
        value += size * (levels[a] == "hi") * (levels[b] == "hi")
    return value


def effects_of(runs, count):
    names = list(factors(count))
    return factor_effects(runs, names, dict.fromkeys(names, "lo"), outcomes_of(runs), MIN_EFFECT)


def test_a_resolution_4_fraction_recovers_the_known_main_effects():
    runs = scored_runs(design(6, resolution=4), additive)
    effects = effects_of(runs, 6)
    assert list(effects.columns) == EFFECT_COLUMNS
    main = effects[effects["term"] == "main"].set_index("factor_a")
    assert list(main.index) == list(TRUE_MAIN)
    for factor, truth in TRUE_MAIN.items():
        found = main.loc[factor]
        assert found["ci_low"] <= truth <= found["ci_high"], (factor, found)
        assert found["estimate"] == pytest.approx(truth, abs=0.005)
        assert found["aliases"] == "" and found["n_seeds"] == len(SEEDS)
    assert main.loc["f0", "verdict"] == "better" and main.loc["f1", "verdict"] == "worse"
    # Resolution 4: every interaction is clear of main effects, aliased with others, marked.
    pairs = effects[effects["term"] == "interaction"]
    assert len(pairs) == 15 and pairs["aliases"].str.contains(" = ").all()


def test_a_resolution_5_fraction_recovers_an_interaction():
    runs = scored_runs(design(5, resolution=5), lambda lv: additive(lv, {("f0", "f1"): 0.03}))
    effects = effects_of(runs, 5)
    pair = effects[(effects["term"] == "interaction") & (effects["factor_b"] == "f1")]
    pair = pair[pair["factor_a"] == "f0"].iloc[0]
    assert pair["ci_low"] <= 0.03 <= pair["ci_high"] and pair["aliases"] == ""
    others = effects[(effects["term"] == "interaction") & (effects["factor_a"] != "f0")]
    assert not others["verdict"].isin(["better", "worse"]).any()  # null: none decided


def test_resolution_3_main_effects_carry_their_aliased_interaction_and_say_so():
    cells = design(7, resolution=3)
    runs = scored_runs(cells, lambda lv: additive(lv, {("f0", "f1"): 0.04}), noise=0.0)
    effects = effects_of(runs, 7)
    assert set(effects["term"]) == {"main"}  # every interaction is some main effect's
    aliased = effects[effects["aliases"].str.contains(r"(?:^| )-?f0:f1(?: |$)")]
    assert len(aliased) == 1
    factor = aliased["factor_a"].iloc[0]
    # Its estimate is its own effect plus (sign) half the f0:f1 interaction contrast.
    sign = -1 if "-f0:f1" in aliased["aliases"].iloc[0] else 1
    expected = TRUE_MAIN.get(factor, 0.0) + sign * 0.02
    assert aliased["estimate"].iloc[0] == pytest.approx(expected, abs=2 / IMAGES)
    clean = effects[~effects.index.isin(aliased.index) & effects["factor_a"].isin(TRUE_MAIN)]
    assert clean.set_index("factor_a")["estimate"].drop(["f0", "f1"]).to_dict() == (
        pytest.approx({f: TRUE_MAIN[f] for f in clean["factor_a"] if f not in ("f0", "f1")},
                      abs=2 / IMAGES)
    )  # fmt: skip
    assert re.fullmatch(r"f\d( = -?f\d:f\d){3}", aliased["aliases"].iloc[0])


def test_interactions_clear_of_every_main_effect_are_reported_the_others_not():
    """2^(5-2) at resolution 3: f0:f1 is some main effect's alias, four pairs are clear."""
    effects = effects_of(scored_runs(design(5, resolution=3), additive), 5)
    pairs = effects[effects["term"] == "interaction"]
    clear = [("f1", "f2"), ("f1", "f4"), ("f2", "f3"), ("f3", "f4")]
    assert list(zip(pairs["factor_a"], pairs["factor_b"], strict=True)) == clear
    # every column filled in, the comparison's too
    assert effects[["prob_improvement", "verdict_reason", "p_value"]].notna().all().all()
    undecided = effects[effects["verdict"] == "undecided"]
    assert undecided["seeds_needed"].notna().all() and len(undecided) > 0


def test_an_interaction_interval_may_reach_beyond_one():
    """An interaction contrast lies in [-2, 2]: a full reversal (right only where both or
    neither factor is on) is +2, and its interval is not cut at 1."""
    cells = design(2, "full")
    runs = scored_runs(cells, lambda lv: float((lv["f0"] == "hi") == (lv["f1"] == "hi")),
                       noise=0.02)  # fmt: skip
    pair = effects_of(runs, 2).query("term == 'interaction'").iloc[0]
    assert pair["estimate"] == pytest.approx(2.0, abs=0.05)
    assert pair["ci_high"] > 1.5 and pair["ci_low"] < pair["estimate"] < pair["ci_high"]


def test_partial_aliases_are_listed_up_to_four_and_summed_up_beyond():
    third = Fraction(1, 3)
    few = [(("f1", "f2"), third), (("f3",), -third), (("f4", "f5"), third), (("f6",), third)]
    assert fractional._partly(few) == "partly f1:f2 (+1/3), f3 (-1/3), f4:f5 (+1/3), f6 (+1/3)"
    many = [*few, (("f7", "f8"), -Fraction(1, 5)), (("f2", "f9"), third)]
    assert fractional._partly(many) == (
        "partly 2 main effects and 4 two-factor interactions (|r| <= 1/3)"
    )
    assert fractional._partly([(t, r) for t, r in many if len(t) == 1] * 3) == (
        "partly 6 main effects (|r| <= 1/3)"
    )


def test_designs_that_cannot_be_built_say_what_to_do():
    with pytest.raises(ValueError) as error:
        fractional.fractional_signs(1, 3)
    assert str(error.value) == "a fraction needs at least two factors; use design 'full'"
    with pytest.raises(ValueError) as error:
        fractional.screening_signs(1)
    assert str(error.value) == "a screening design needs at least two factors; use design 'full'"
    assert fractional.screening_signs(2).shape == (4, 2)
    with pytest.raises(ValueError) as error:
        fractional.screening_signs(27)  # 28 runs: not a size pyDOE builds
    assert str(error.value) == (
        "pyDOE has no Plackett-Burman design for 27 factors (it builds 4, 8, 12, 16, 20, 24, "
        "32, 40, 48 ... runs for up to one factor fewer); leave a factor out or use design "
        "'fractional'"
    )


def test_orthogonal_means_plus_minus_one_balanced_columns_at_right_angles():
    half = np.array([[-1, -1], [1, -1], [-1, 1], [1, 1]])
    assert fractional.is_orthogonal(half)
    assert not fractional.is_orthogonal(np.empty((0, 2), int))
    assert not fractional.is_orthogonal(half * 2)  # not a two-level coding
    same = np.array([[1, 1], [1, 1], [-1, -1], [-1, -1]])  # balanced, but one contrast
    assert not fractional.is_orthogonal(same)
    # at right angles and summing to 0 over the whole, but each column unbalanced (2, -2)
    assert not fractional.is_orthogonal(np.array([[1, 1], [1, -1], [-1, -1], [1, -1]]))


def test_a_screening_design_recovers_main_effects_and_reports_no_interactions():
    cells = design(11, "screening")
    runs = scored_runs(cells, additive)
    effects = effects_of(runs, 11)
    assert set(effects["term"]) == {"main"} and len(effects) == 11
    for row in effects.itertuples():
        truth = TRUE_MAIN.get(row.factor_a, 0.0)
        assert row.ci_low <= truth <= row.ci_high, row
        assert row.aliases.startswith("partly 45 two-factor interactions")


def test_full_grids_keep_their_effects_with_empty_aliases():
    names = list(factors(3))
    cells = [
        dict(zip(names, combo, strict=True)) for combo in itertools.product(["lo", "hi"], repeat=3)
    ]
    effects = effects_of(scored_runs(cells, additive), 3)
    assert list(effects["term"]) == ["main"] * 3 + ["interaction"] * 3
    assert (effects["aliases"] == "").all()


def test_balanced_but_confounded_cells_get_no_effects():
    """Every level in half the cells, but f0 and f1 always change together: not orthogonal,
    so neither effect can be told apart (as in a one-at-a-time or a listed design)."""
    cells = [{"f0": a, "f1": a, "f2": c} for a in ("lo", "hi") for c in ("lo", "hi")]
    effects = effects_of(scored_runs(cells, additive), 3)
    assert effects.empty and list(effects.columns) == EFFECT_COLUMNS


def test_a_three_level_factor_in_an_orthogonal_looking_list_gets_no_effects():
    """Coded baseline-or-not, f0's three levels (lo, hi, top) and f1 look balanced and at
    right angles; but 'not lo' mixes two levels, so there is no main effect to report."""
    cells = [{"f0": "lo", "f1": "lo"}, {"f0": "hi", "f1": "hi"}, {"f0": "top", "f1": "lo"},
             {"f0": "lo", "f1": "hi"}]  # fmt: skip
    effects = effects_of(scored_runs(cells, additive), 2)
    assert effects.empty


def test_effects_need_a_seed_that_every_cell_finished():
    runs = scored_runs(design(2, "full"), additive)
    runs.loc[runs["cell"] == runs["cell"].iloc[-1], "status"] = "failed"
    effects = effects_of(runs, 2)
    assert effects.empty and list(effects.columns) == EFFECT_COLUMNS  # effects.csv's header


def test_a_two_factor_fraction_is_the_full_two_by_two():
    assert len(design(2, resolution=3)) == 4


def test_level_means_skip_left_out_combinations_and_cells_without_a_finished_seed():
    from ablate.results.effects import level_means

    cells = [
        {"f0": "lo", "f1": "lo"},
        {"f0": "hi", "f1": "lo"},
        {"f0": "top", "f1": "lo"},
        {"f0": "lo", "f1": "hi"},
        {"f0": "hi", "f1": "mid"},
    ]  # one at a time, plus one
    runs = scored_runs(cells, lambda lv: 0.7)
    runs.loc[runs["cell"] == cell_name({"f0": "hi", "f1": "mid"}), "status"] = "failed"
    means = level_means(runs, ["f0", "f1"], outcomes_of(runs))
    pairs = means[means["term"] == "pair"]
    assert list(zip(pairs["level_a"], pairs["level_b"], strict=True)) == [
        ("lo", "lo"),
        ("lo", "hi"),
        ("hi", "lo"),
        ("top", "lo"),
    ]  # not (hi, hi) nor (hi, mid)
    levels = means[means["term"] == "level"]
    # f0 = hi and f1 = mid take in the failed cell: no seed that all their cells finished
    assert list(zip(levels["factor_a"], levels["level_a"], strict=True)) == [
        ("f0", "lo"), ("f0", "top"), ("f1", "lo"), ("f1", "hi")]  # fmt: skip
    assert (means["n_seeds"] == len(SEEDS)).all()


def test_comparisons_with_an_absent_baseline_are_undecided_with_a_reason():
    runs = scored_runs(design(7, resolution=3), additive)
    baseline = cell_name(dict.fromkeys(factors(7), "lo"))
    compared = compare_with_baseline(runs, baseline, outcomes_of(runs), MIN_EFFECT)
    assert len(compared) == 8 and (compared["verdict"] == "undecided").all()
    assert (compared["verdict_reason"] == "no seed finished in both cells").all()


# Planning


def test_snakemake_plans_one_train_job_per_fractional_cell_and_seed(tmp_path):
    config = tiny_config(design="fractional", resolution=4)
    config["factors"].update(
        batch={"b32": {}, "b16": {"batch_size": 16}},
        rate={"slow": {}, "fast": {"optimizer": {"learning_rate": 0.002}}},
        length={"short": {}, "long": {"epochs": 3}},
        norm={"plain": {}, "batchnorm": {"model": {"batch_norm": True}}},
    )
    config["factors"]["regularization"].pop("dropout-batchnorm", None)
    config["factors"]["augmentation"].pop("heavy", None)  # two levels each
    write_config(tmp_path, config)
    jobs = planned_jobs(snakemake(tmp_path, "--dry-run"))
    trained = sorted((w["cell"], int(w["seed"])) for rule, w in jobs if rule == "train")
    cells = list(resolve_study(config).cells)
    assert len(cells) == 16  # 6 two-level factors at resolution 4, instead of 64
    assert trained == sorted((cell, seed) for cell in cells for seed in config["seeds"])


# One seed per cell: Lenth's pseudo standard error (ablate.results.lenth)


def test_a_one_seed_screen_decides_its_large_effects_by_lenths_method():
    """A 2^(6-2) fraction at one seed: the two large effects (4 and 3 points, 10 and 7.5
    noise SDs) are decided with their signs from the design's own contrasts; the null ones
    are not; the rule says how."""
    runs = scored_runs(design(6, resolution=4), additive, seeds=[1])
    effects = effects_of(runs, 6)
    main = effects[effects["term"] == "main"].set_index("factor_a")
    assert main.loc["f0", "verdict"] == "better" and main.loc["f1", "verdict"] == "worse"
    assert main.loc["f0", "verdict_reason"].startswith("Lenth p = ")
    for factor in ("f2", "f4"):
        assert main.loc[factor, "verdict"] not in ("better", "worse")
        assert main.loc[factor, "ci_low"] <= 0 <= main.loc[factor, "ci_high"]
    for factor, truth in TRUE_MAIN.items():
        assert main.loc[factor, "estimate"] == pytest.approx(truth, abs=0.01), factor
        assert -1 <= main.loc[factor, "ci_low"] < main.loc[factor, "ci_high"] <= 1
    assert (effects["n_seeds"] == 1).all()
    assert effects["rule"].iloc[0].startswith("Lenth's pseudo standard error (15 contrasts of 16")


def test_one_seed_designs_too_small_or_not_two_level_stay_undecided():
    for cells, count in [(design(2, "full"), 2), (design(3, resolution=3), 3)]:  # 4 cells
        effects = effects_of(scored_runs(cells, additive, seeds=[1]), count)
        assert (effects["verdict"] == "undecided").all()
        assert effects["verdict_reason"].str.startswith("one seed").all()
    three = [
        dict(zip(["f0", "f1", "f2"], combo, strict=True))
        for combo in itertools.product(["lo", "hi", "top"], ["lo", "hi"], ["lo", "hi"])
    ]
    effects = effects_of(scored_runs(three, additive, seeds=[1]), 3)  # 12 cells, not two-level
    assert (effects["verdict"] == "undecided").all() and "Lenth" not in effects["rule"].iloc[0]
