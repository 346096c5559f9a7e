"""The comparison figures: each writes one readable PNG, reports what it drew, and draws the
aggregate's numbers (summary.csv, effects.csv, level_means.csv), never its own."""

from __future__ import annotations

import ast
import itertools
import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from PIL import Image
from synthetic import outcomes_of

from ablate.results import figures as figures_package
from ablate.results.aggregate import summarise
from ablate.results.effects import factor_effects as factor_effects_table
from ablate.results.effects import level_means
from ablate.results.figures import (
    confusion_matrices,
    drawn_effects,
    factor_effects,
    heatmap,
    interactions,
    learning_curves,
    timing,
    train_validation_gap,
)
from ablate.results.figures import (
    test_accuracy as accuracy_figure,  # not a test: keep pytest off it
)

# A "More than 20 figures" warning (figures left open) or any other warning fails the test.
pytestmark = pytest.mark.filterwarnings("error")

GRID = {"augmentation": ["none", "geometric"], "regularization": ["none", "dropout", "bn"]}
BASELINE = "augmentation-none__regularization-none"


def cell_name(levels: dict[str, str]) -> str:
    return "__".join(f"{factor}-{level}" for factor, level in levels.items()) or "base"


def accuracy_of(levels: dict[str, str], seed: int) -> float:
    """Deterministic accuracies: 0.80, + 0.03 per augmentation step and 0.02 per
    regularization step (other factors: + 0); seeds 1, 2, 3 add -0.05, 0, +0.05."""
    weights = {"augmentation": 0.03, "regularization": 0.02}
    step = sum(weights.get(f, 0) * GRID.get(f, [lv]).index(lv) for f, lv in levels.items())
    return round(0.80 + step + 0.05 * (seed - 2), 6)


def make_runs(grid: dict[str, list[str]], seeds=(1, 2, 3), failed=()) -> pd.DataFrame:
    """One row per cell x seed like runs.csv; (cell, seed) pairs in ``failed`` have NaNs."""
    rows = []
    for combo in itertools.product(*grid.values()):
        levels = dict(zip(grid, combo, strict=True))
        cell = cell_name(levels)
        for seed in seeds:
            bad = (cell, seed) in failed or (cell, "*") in failed
            accuracy = math.nan if bad else accuracy_of(levels, seed)
            rows.append(
                {
                    "study": "demo",
                    "cell": cell,
                    **levels,
                    "seed": seed,
                    "status": "failed" if bad else "ok",
                    "test_accuracy": accuracy,
                    "test_loss": math.nan if bad else 1 - accuracy,
                    "test_macro_f1": accuracy,
                    "test_images": math.nan if bad else 200,
                    "best_epoch": 3,
                    "epochs_run": 4,
                    "best_val_loss": 0.4,
                    "best_val_accuracy": accuracy,
                    "train_seconds": math.nan if bad else 10.0 * seed,
                    "images_per_second": math.nan if bad else 100.0 * seed,
                    "num_params": 1000,
                }
            )
    return pd.DataFrame(rows)


def make_history(runs: pd.DataFrame, epochs: int = 4, diverging: str | None = None):
    """Per run and epoch; the ``diverging`` cell trains to 0.9 while validation stays 0.1."""
    rows = []
    for run in runs.itertuples():
        for epoch in range(1, epochs + 1):
            train = 0.5 + 0.1 * epoch + 0.01 * run.seed
            validation = train - 0.05
            if run.cell == diverging:
                train, validation = 0.9, 0.1
            rows.append(
                {
                    "cell": run.cell,
                    "seed": run.seed,
                    "epoch": epoch,
                    "accuracy": train,
                    "loss": 1 - train,
                    "val_accuracy": validation,
                    "val_loss": 1 - validation,
                    "learning_rate": 0.001,
                }
            )
    return pd.DataFrame(rows)


def aggregate(runs: pd.DataFrame, factors: list[str], baseline: str, folder: Path) -> dict:
    """The aggregate's tables of ``runs``, written to CSV and read back as the figures
    script reads them."""
    cells = runs.drop_duplicates("cell").set_index("cell")
    levels = cells.loc[baseline, factors].to_dict() if baseline in cells.index else {}
    outcomes = outcomes_of(runs)
    made = {
        "summary": summarise(runs, factors, baseline, outcomes, 0.005),
        "effects": factor_effects_table(runs, factors, levels, outcomes, 0.005),
        "level_means": level_means(runs, factors, outcomes),
    }
    text = dict.fromkeys(["cell", *factors, "level_a", "level_b"], str)
    read = {}
    for name, table in made.items():
        table.to_csv(folder / f"{name}.csv", index=False)
        read[name] = pd.read_csv(folder / f"{name}.csv", dtype=text)
    return read


def assert_png(path, min_width=300, min_height=150):
    assert path.is_file()
    with Image.open(path) as image:
        assert image.format == "PNG"
        width, height = image.size
        image.load()
    assert min_width <= width <= 12_000 and min_height <= height <= 12_000, (width, height)
    assert plt.get_fignums() == [], "a figure was left open"


@pytest.fixture(autouse=True)
def no_open_figures():
    plt.close("all")
    yield
    assert plt.get_fignums() == []


BEST = "augmentation-geometric__regularization-dropout"  # mean 0.85
PARTLY_FAILED = "augmentation-geometric__regularization-bn"  # seed 3 failed: mean 0.845
ALL_FAILED = "augmentation-none__regularization-dropout"
FAILED = {(PARTLY_FAILED, 3), (ALL_FAILED, "*")}


@pytest.fixture
def runs():
    """A 2 x 3 grid, 3 seeds; one failed run and one cell that failed on every seed."""
    return make_runs(GRID, failed=FAILED)


# -- test accuracy ----------------------------------------------------------------------------


def test_test_accuracy_leaves_failed_runs_out_and_marks_the_baseline(runs, tmp_path):
    path = tmp_path / "test_accuracy.png"
    summary = aggregate(runs, list(GRID), BASELINE, tmp_path)["summary"]
    drawn = accuracy_figure(summary, runs, path)
    assert_png(path)

    # the all-failed cell is not shown; the others are sorted best first
    assert ALL_FAILED not in drawn["cells"]
    assert drawn["cells"] == [
        BEST,
        PARTLY_FAILED,
        "augmentation-none__regularization-bn",
        "augmentation-geometric__regularization-none",
        BASELINE,
    ]
    assert drawn["mean"] == sorted(drawn["mean"], reverse=True)

    columns = zip(drawn["mean"], drawn["low"], drawn["high"], drawn["n"], strict=True)
    shown = dict(zip(drawn["cells"], columns, strict=True))
    # one seed failed: the mean and n use the two others only
    mean, low, high, n = shown[PARTLY_FAILED]
    assert n == 2 and mean == pytest.approx((0.82 + 0.87) / 2)
    # baseline: 0.75, 0.80, 0.85: an interval over seeds and test images, inside [0, 1]
    mean, low, high, n = shown[BASELINE]
    assert (mean, n) == (pytest.approx(0.80), 3)
    assert 0.6 < low < 0.75 and 0.85 < high < 0.95
    assert drawn["baseline"] == BASELINE and drawn["baseline_mean"] == pytest.approx(0.80)
    assert drawn["note"].startswith("4 failed runs left out")  # 1 + all 3 of one cell
    assert ALL_FAILED in drawn["note"]
    # exactly summary.csv's numbers
    table = summary.set_index("cell").loc[drawn["cells"]]
    assert drawn["mean"] == table["test_accuracy_mean"].tolist()
    assert drawn["low"] == table["test_accuracy_ci_low"].tolist()
    assert drawn["high"] == table["test_accuracy_ci_high"].tolist()
    verdicts = table["vs_baseline_verdict"].where(~table["baseline"], "").tolist()
    assert drawn["verdict"] == verdicts and "" in verdicts and len(set(verdicts)) > 1


def test_test_accuracy_uses_status_not_only_missing_metrics(tmp_path):
    runs = make_runs({"reg": ["a", "b"]}, seeds=(1, 2))
    runs.loc[0, "status"] = "failed"  # a failed run whose metrics were written anyway
    summary = aggregate(runs, ["reg"], "reg-a", tmp_path)["summary"]
    drawn = accuracy_figure(summary, runs, tmp_path / "t.png")
    assert drawn["n"][drawn["cells"].index("reg-a")] == 1
    # one seed: the test-set interval, and the summary says so
    assert (
        drawn["low"][drawn["cells"].index("reg-a")] < drawn["mean"][drawn["cells"].index("reg-a")]
    )
    note = summary.set_index("cell").loc["reg-a", "test_interval_note"]
    assert note == "one seed: test-set uncertainty only"
    assert_png(tmp_path / "t.png")
    assert drawn["note"] == "1 failed run left out"


def test_test_accuracy_tells_runs_not_run_yet_from_failed_ones(tmp_path):
    runs = make_runs({"reg": ["a", "b"]}, failed={("reg-b", 3)}, seeds=(1, 2, 3))
    later = (runs["cell"] == "reg-a") & (runs["seed"] > 1)
    runs.loc[later, "status"] = "not_run"  # a partial look at a study still running
    summary = aggregate(runs, ["reg"], "reg-a", tmp_path)["summary"]
    drawn = accuracy_figure(summary, runs, tmp_path / "t.png")
    assert drawn["note"] == "1 failed run left out; 2 runs with no result yet"


def test_test_accuracy_when_the_baseline_or_everything_failed(tmp_path):
    runs = make_runs({"reg": ["a", "b"]}, failed={("reg-a", "*")})
    summary = aggregate(runs, ["reg"], "reg-a", tmp_path)["summary"]
    drawn = accuracy_figure(summary, runs, tmp_path / "t.png")
    assert drawn["cells"] == ["reg-b"] and drawn["baseline"] is None
    assert_png(tmp_path / "t.png")

    runs = make_runs({"reg": ["a"]}, failed={("reg-a", "*")})
    summary = aggregate(runs, ["reg"], "reg-a", tmp_path)["summary"]
    drawn = accuracy_figure(summary, runs, tmp_path / "none.png")
    assert drawn["cells"] == [] and drawn["baseline_mean"] is None
    assert_png(tmp_path / "none.png")


# -- learning curves --------------------------------------------------------------------------


def test_learning_curves_average_seeds_and_drop_failed_runs(runs, tmp_path):
    history = make_history(runs)
    path = tmp_path / "val_accuracy.png"
    drawn = learning_curves(history, "val_accuracy", path, runs=runs)
    assert_png(path)
    assert drawn["band"] == "sd"
    assert drawn["cells"] == [c for c in pd.unique(runs["cell"]) if c != ALL_FAILED]
    table = drawn["table"].set_index(["cell", "epoch"])
    baseline = table.loc[(BASELINE, 4)]
    assert baseline["mean"] == pytest.approx(0.5 + 0.4 + 0.02 - 0.05)  # seeds 1, 2, 3
    assert baseline["sd"] == pytest.approx(0.01) and baseline["n"] == 3
    assert table.loc[(PARTLY_FAILED, 1), "n"] == 2

    everything = learning_curves(history, "val_loss", tmp_path / "val_loss.png")
    assert len(everything["cells"]) == 6  # without runs, only missing values are dropped
    assert_png(tmp_path / "val_loss.png")


def test_learning_curves_with_many_long_cells(tmp_path):
    grid = {
        "architecture-family": [f"network-{i}" for i in range(8)],
        "optimizer-setting": [f"schedule-{i}" for i in range(5)],
    }
    runs = make_runs(grid, seeds=(1, 2))
    drawn = learning_curves(make_history(runs, epochs=3), "val_accuracy", tmp_path / "lc.png")
    assert len(drawn["cells"]) == 40
    assert_png(tmp_path / "lc.png", min_height=600)


def test_train_validation_gap_shows_a_diverging_cell(runs, tmp_path):
    diverging = "augmentation-geometric__regularization-none"
    history = make_history(runs, diverging=diverging)
    path = tmp_path / "gap.png"
    drawn = train_validation_gap(history, path, runs=runs)
    assert_png(path)
    assert len(drawn["cells"]) == 5
    assert drawn["final_gap"][diverging] == pytest.approx(0.8)
    others = [gap for cell, gap in drawn["final_gap"].items() if cell != diverging]
    assert others == pytest.approx([0.05] * 4)


def test_train_validation_gap_without_the_columns_still_writes_a_png(tmp_path):
    history = pd.DataFrame({"cell": ["base"], "seed": [1], "epoch": [1], "val_loss": [0.5]})
    drawn = train_validation_gap(history, tmp_path / "gap.png")
    assert drawn == {"cells": [], "final_gap": {}}
    assert_png(tmp_path / "gap.png")


# -- factors ----------------------------------------------------------------------------------


EFFECT_VALUES = ["factor_a", "level_a", "estimate", "ci_low", "ci_high"]


@pytest.mark.parametrize("failed", [(), ((PARTLY_FAILED, 3),)], ids=["all-ok", "one-failed"])
def test_factor_effects_draw_exactly_the_main_effects_of_effects_csv(failed, tmp_path):
    runs = make_runs(GRID, failed=set(failed))
    # Noise per run, so that per-seed contrasts vary and the intervals have a width.
    runs["test_accuracy"] += 0.004 * np.sin(np.arange(len(runs)))
    tables = aggregate(runs, list(GRID), BASELINE, tmp_path)
    drawn = factor_effects(tables["effects"], tables["summary"], tmp_path / "effects.png")
    assert_png(tmp_path / "effects.png")
    assert drawn["kind"] == "main"
    main = tables["effects"][tables["effects"]["term"] == "main"].reset_index(drop=True)
    pd.testing.assert_frame_equal(drawn_effects(drawn), main[EFFECT_VALUES], check_exact=True)
    # and those are the grid's effects: +0.03 per augmentation step, +0.02 per regularization
    drawn = drawn_effects(drawn)
    assert drawn["estimate"].tolist() == pytest.approx([0.03, 0.02, 0.04], abs=0.01)
    assert (drawn["ci_low"] < drawn["estimate"]).all()
    assert (drawn["estimate"] < drawn["ci_high"]).all()


def test_factor_effects_with_one_seed_draw_the_test_set_intervals(tmp_path):
    runs = make_runs(GRID, seeds=(2,))
    tables = aggregate(runs, list(GRID), BASELINE, tmp_path)
    drawn = drawn_effects(factor_effects(tables["effects"], tables["summary"], tmp_path / "e.png"))
    main = tables["effects"][tables["effects"]["term"] == "main"].reset_index(drop=True)
    pd.testing.assert_frame_equal(drawn, main[EFFECT_VALUES], check_exact=True)
    assert (drawn["ci_low"] < drawn["estimate"]).all()
    assert (main["verdict"] == "undecided").all()  # one seed decides nothing
    assert_png(tmp_path / "e.png")


def test_factor_effects_of_a_one_at_a_time_design_draw_the_paired_differences(tmp_path):
    runs = make_runs(GRID)
    runs = runs[runs["cell"].isin([BASELINE, "augmentation-geometric__regularization-none",
                                   "augmentation-none__regularization-bn"])]  # fmt: skip
    tables = aggregate(runs, list(GRID), BASELINE, tmp_path)
    assert tables["effects"].empty  # not a full factorial: no main effects
    drawn = factor_effects(tables["effects"], tables["summary"], tmp_path / "effects.png")
    assert_png(tmp_path / "effects.png")
    assert drawn["kind"] == "vs_baseline"
    compared = tables["summary"][~tables["summary"]["baseline"]].reset_index(drop=True)
    expected = compared[["cell", "vs_baseline_difference", "vs_baseline_ci_low",
                         "vs_baseline_ci_high"]]  # fmt: skip
    expected.columns = ["cell", "estimate", "ci_low", "ci_high"]
    pd.testing.assert_frame_equal(drawn_effects(drawn), expected, check_exact=True)
    assert drawn_effects(drawn)["estimate"].tolist() == pytest.approx([0.04, 0.03])


def test_factor_effects_without_anything_to_compare_say_so(tmp_path):
    runs = make_runs({"reg": ["a", "b"]}, failed={("reg-a", "*")})  # the baseline never ran
    tables = aggregate(runs, ["reg"], "reg-a", tmp_path)
    drawn = factor_effects(tables["effects"], tables["summary"], tmp_path / "effects.png")
    assert drawn["kind"] is None and drawn_effects(drawn).empty
    assert_png(tmp_path / "effects.png")


def test_interactions_draw_the_pair_means_of_level_means_csv(runs, tmp_path):
    means = aggregate(runs, list(GRID), BASELINE, tmp_path)["level_means"]
    drawn = interactions(means, list(GRID), tmp_path / "interactions.png")
    assert_png(tmp_path / "interactions.png")
    assert drawn["pairs"] == [("augmentation", "regularization")]
    pairs = means[(means["term"] == "pair") & means["mean"].notna()].reset_index(drop=True)
    pd.testing.assert_frame_equal(drawn["table"], pairs, check_exact=True)
    table = drawn["table"].set_index(["level_a", "level_b"])
    assert len(table) == 5  # the all-failed cell has no point
    point = table.loc[("none", "none")]
    assert (point["mean"], point["n_seeds"]) == (pytest.approx(0.80), 3)
    cell = "augmentation-none__regularization-none"
    summary = aggregate(runs, list(GRID), BASELINE, tmp_path)["summary"].set_index("cell")
    assert point["ci_high"] == summary.loc[cell, "test_accuracy_ci_high"]  # one cell: its own
    assert table.loc[("geometric", "bn"), "n_seeds"] == 2


def test_interactions_with_three_factors_draw_every_pair(tmp_path):
    runs = make_runs({"a": ["x", "y"], "b": ["p", "q"], "c": ["u", "v", "w"]}, seeds=(1, 2))
    means = aggregate(runs, ["a", "b", "c"], "a-x__b-p__c-u", tmp_path)["level_means"]
    drawn = interactions(means, ["a", "b", "c"], tmp_path / "i.png")
    assert drawn["pairs"] == [("a", "b"), ("a", "c"), ("b", "c")]
    assert drawn["table"].groupby(["factor_a", "factor_b"]).size().tolist() == [4, 6, 6]
    assert drawn["table"]["n_seeds"].tolist()[:4] == [2, 2, 2, 2]  # seeds, over the third
    assert_png(tmp_path / "i.png")


@pytest.mark.parametrize("factors", [[], ["reg"]], ids=["no-factor", "one-factor"])
def test_fewer_than_two_factors_give_placeholders(tmp_path, factors):
    grid = {"reg": ["a", "b"]} if factors else {}
    runs = make_runs(grid)
    tables = aggregate(runs, factors, "reg-a" if factors else "base", tmp_path)
    assert interactions(tables["level_means"], factors, tmp_path / "i.png")["pairs"] == []
    assert heatmap(tables["summary"], factors, tmp_path / "h.png")["mean"] is None
    effects = factor_effects(tables["effects"], tables["summary"], tmp_path / "f.png")
    assert len(drawn_effects(effects)) == (1 if factors else 0)
    for name in ("i", "h", "f"):
        assert_png(tmp_path / f"{name}.png")


def test_heatmap_two_factors_annotated_with_means_and_seed_counts(runs, tmp_path):
    summary = aggregate(runs, list(GRID), BASELINE, tmp_path)["summary"]
    drawn = heatmap(summary, list(GRID), tmp_path / "heatmap.png")
    assert_png(tmp_path / "heatmap.png")
    means, counts = drawn["mean"], drawn["n"]
    assert list(means.index) == ["none", "geometric"]
    assert list(means.columns) == ["none", "dropout", "bn"]
    assert means.loc["none", "none"] == pytest.approx(0.80)
    assert means.loc["geometric", "bn"] == pytest.approx((0.82 + 0.87) / 2)
    assert math.isnan(means.loc["none", "dropout"]) and counts.loc["none", "dropout"] == 0
    assert counts.loc["geometric", "bn"] == 2
    assert drawn["baseline"] == (0, 0)
    cell = summary.set_index("cell").loc[PARTLY_FAILED]
    assert means.loc["geometric", "bn"] == cell["test_accuracy_mean"]  # summary.csv's number


def test_heatmap_with_three_factors_is_a_placeholder(tmp_path):
    runs = make_runs({"a": ["x"], "b": ["p"], "c": ["u", "v"]})
    summary = aggregate(runs, ["a", "b", "c"], "a-x__b-p__c-u", tmp_path)["summary"]
    assert heatmap(summary, ["a", "b", "c"], tmp_path / "h.png")["mean"] is None
    assert_png(tmp_path / "h.png")


def test_the_figures_import_no_statistics():
    """Figures draw the aggregate's numbers: none of their modules may estimate its own."""
    for module in Path(figures_package.__file__).parent.glob("*.py"):
        imported = set()
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                imported |= {f"{node.module}.{alias.name}" for alias in node.names}
        assert not {name for name in imported if "scipy" in name or "statistics" in name}, module


# -- confusion matrices and timing ------------------------------------------------------------


def write_confusion(path, counts, classes):
    pd.DataFrame(counts, index=pd.Index(classes, name="true"), columns=classes).to_csv(path)
    return path


def test_confusion_matrices_use_each_cells_best_seed(tmp_path):
    runs = make_runs({"reg": ["a", "b", "c"]}, failed={("reg-a", 3), ("reg-c", "*")})
    classes = [0, 1, 2]  # numeric names: read back as int rows but text columns
    paths = {}
    for run in runs.itertuples():
        counts = np.full((3, 3), run.seed) + np.diag([10, 0, 5 * run.seed])
        paths[(run.cell, run.seed)] = write_confusion(
            tmp_path / f"{run.cell}-{run.seed}.csv", counts, classes
        )
    drawn = confusion_matrices(runs, paths, tmp_path / "confusion.png")
    assert_png(tmp_path / "confusion.png")
    # reg-a seed 3 (the best) failed, so seed 2 is the best successful one; reg-c never ran
    assert drawn["cells"] == ["reg-a", "reg-b"]
    assert drawn["seeds"] == {"reg-a": 2, "reg-b": 3}
    assert drawn["accuracy"]["reg-b"] == pytest.approx(0.85)
    assert drawn["classes"] == {"reg-a": 3, "reg-b": 3}
    # seed 2: rows [12, 2, 2], [2, 2, 2], [2, 2, 12] -> recall 12/16, 2/6, 12/16
    assert drawn["recall"]["reg-a"] == pytest.approx([0.75, 1 / 3, 0.75])


def test_confusion_matrices_with_120_classes_and_missing_files(tmp_path):
    runs = make_runs({"reg": ["a", "b"]}, seeds=(1, 2))
    classes = [f"n0208{i:04d}-some_long_breed_name" for i in range(120)]
    rng = np.random.default_rng(0)
    counts = rng.integers(0, 3, (120, 120)) + np.diag(np.full(120, 20))
    counts[5] = 0  # a class without test images: its row stays blank
    path = write_confusion(tmp_path / "cm.csv", counts, classes)
    paths = {("reg-a", 1): path, ("reg-b", 1): tmp_path / "never-written.csv"}
    drawn = confusion_matrices(runs, paths, tmp_path / "confusion.png")
    assert drawn["cells"] == ["reg-a"] and drawn["seeds"] == {"reg-a": 1}
    assert drawn["classes"] == {"reg-a": 120}
    recall = drawn["recall"]["reg-a"]
    assert math.isnan(recall[5])
    assert recall[0] == pytest.approx(counts[0, 0] / counts[0].sum())
    assert_png(tmp_path / "confusion.png")

    nothing = confusion_matrices(runs, {}, tmp_path / "empty.png")
    assert nothing["cells"] == []
    assert_png(tmp_path / "empty.png")


def test_timing_means_over_successful_seeds(runs, tmp_path):
    summary = aggregate(runs, list(GRID), BASELINE, tmp_path)["summary"]
    drawn = timing(summary, runs, tmp_path / "timing.png")
    assert_png(tmp_path / "timing.png")
    assert len(drawn["cells"]) == 5
    assert drawn["seconds"][BASELINE] == pytest.approx(20.0)
    assert drawn["seconds"][PARTLY_FAILED] == pytest.approx(15.0)
    assert drawn["images_per_second"][BASELINE] == pytest.approx(200.0)


def test_timing_without_throughput_values(tmp_path):
    runs = make_runs({"reg": ["a", "b"]}).assign(images_per_second=math.nan)
    summary = aggregate(runs, ["reg"], "reg-a", tmp_path)["summary"]
    drawn = timing(
        summary, runs, tmp_path / "timing.png"
    )  # no all-NaN warning (warnings are errors)
    assert math.isnan(drawn["images_per_second"]["reg-a"])
    assert drawn["seconds"]["reg-b"] == pytest.approx(20.0)
    assert_png(tmp_path / "timing.png")


# -- a study without factors ------------------------------------------------------------------


def test_a_study_without_factors_draws_every_figure(tmp_path):
    runs = make_runs({})
    history = make_history(runs)
    summary = aggregate(runs, [], "base", tmp_path)["summary"]
    assert accuracy_figure(summary, runs, tmp_path / "a.png")["cells"] == ["base"]
    assert learning_curves(history, "val_accuracy", tmp_path / "l.png")["cells"] == ["base"]
    assert train_validation_gap(history, tmp_path / "g.png")["cells"] == ["base"]
    assert timing(summary, runs, tmp_path / "t.png")["cells"] == ["base"]
    for name in "algt":
        assert_png(tmp_path / f"{name}.png")
