"""The warnings of the aggregate, on small hand-made tables."""

import pandas as pd
import pytest

from ablate.results.checks import per_cell, study_warnings


def run(cell, seed, status="ok", **values):
    row = {"cell": cell, "seed": seed, "status": status, "reason": "", "best_epoch": 3.0,
           "epochs_run": 5.0, "monitor": "val_loss", "splits_read": "train;validation"}  # fmt: skip
    return {**row, **values}


def history(cell, seed, accuracy, val_accuracy):
    columns = {"cell": cell, "seed": seed, "epoch": [1, 2], "accuracy": [0.5, accuracy],
               "val_accuracy": [0.4, val_accuracy]}  # fmt: skip
    return pd.DataFrame(columns)


MANIFEST = pd.DataFrame(
    {
        "file": ["a.png", "b.png", "c.png"],
        "split": ["train", "validation", "test"],
        "sha256": ["1", "2", "3"],
    }
)
# Eight test images: the share of them that leak is part of the warning.
EIGHT_TESTS = pd.DataFrame(
    {"file": [f"t{k}.png" for k in range(8)], "split": ["test"] * 8, "sha256": list("abcdefgh")}
)


def warnings_of(runs, histories=(), manifest=MANIFEST, gap=0.25):
    table = pd.concat(histories) if histories else pd.DataFrame()
    return study_warnings(pd.DataFrame(runs), table, manifest, gap)


def test_a_healthy_study_has_no_warning():
    runs = [run("a", 1), run("a", 2), run("b", 1), run("b", 2)]
    histories = [history(r["cell"], r["seed"], 0.9, 0.85) for r in runs]
    assert warnings_of(runs, histories).empty


def test_the_s5_failure_train_0907_validation_010_is_a_divergence():
    runs = [run("shared-bn", 1), run("ok", 1)]
    histories = [history("shared-bn", 1, 0.907, 0.10), history("ok", 1, 0.90, 0.80)]
    found = warnings_of(runs, histories)
    assert found[["cell", "seed", "check"]].values.tolist() == [["shared-bn", 1, "divergence"]]
    assert "0.907 vs validation 0.100 after epoch 2" in found["message"].iloc[0]
    # The threshold is the config's: a gap of 0.807 passes a threshold of 0.9.
    assert warnings_of(runs, histories, gap=0.9).empty


def test_failed_runs_missing_cells_and_fewer_seeds_are_named():
    runs = [
        run("a", 1), run("a", 2),
        run("b", 1), run("b", 2, status="failed", reason="loss became NaN"),
        run("c", 1, status="failed", reason="out of memory"),
        run("c", 2, status="failed", reason="out of memory"),
    ]  # fmt: skip
    found = warnings_of(runs)
    checks = found.assign(seed=found["seed"].fillna(0))[["cell", "seed", "check"]]
    checks = checks.values.tolist()  # seed 0 here: a warning about the whole cell
    assert ["b", 2, "failed"] in checks
    assert ["c", 0, "no_result"] in checks
    assert ["b", 0, "fewer_seeds"] in checks
    assert "seed 2 failed: loss became NaN" in found["message"].tolist()
    assert not (found["cell"] == "a").any()


def test_a_cell_an_adaptive_study_stopped_early_is_not_short_of_seeds():
    # The baseline and an open cell trained 4 seeds, a decided cell 2: all it was given.
    runs = [run(cell, seed) for cell in ("base", "open") for seed in (1, 2, 3, 4)]
    runs += [run("decided", 1), run("decided", 2)]
    assert warnings_of(runs).empty
    runs[2] = run("base", 3, status="failed", reason="out of memory")
    found = warnings_of(runs)
    short = found[found["check"] == "fewer_seeds"]
    assert short["cell"].tolist() == ["base"]
    assert short["message"].iloc[0].startswith("3 of 4 seeds finished")


def test_best_epoch_last_is_flagged_unless_a_single_epoch_was_run():
    runs = [run("a", 1, best_epoch=5.0), run("b", 1, best_epoch=1.0, epochs_run=1.0)]
    found = warnings_of(runs)
    assert found[["cell", "check"]].values.tolist() == [["a", "best_epoch_is_last"]]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"splits_read": "test;train;validation"}, "training read the test split"),
        ({"monitor": "loss"}, "selected on 'loss', not on a validation metric"),
    ],
)
def test_test_set_use_during_training_is_flagged(values, message):
    found = warnings_of([run("a", 1, **values)])
    assert found["check"].tolist() == ["test_set_use"]
    assert message in found["message"].iloc[0]


def test_test_images_identical_to_training_images_are_a_study_warning():
    manifest = MANIFEST.assign(sha256=["1", "2", "1"])  # the test image is a.png again
    found = warnings_of([run("a", 1)], manifest=manifest)
    assert found[["cell", "check"]].values.tolist() == [["", "test_set_use"]]
    assert "1 test images are byte-identical" in found["message"].iloc[0]
    assert "c.png" in found["message"].iloc[0]


def test_per_cell_joins_check_names_with_counts_and_study_wide_ones():
    found = pd.DataFrame(
        [["a", 1, "best_epoch_is_last", ""], ["a", 2, "best_epoch_is_last", ""],
         ["a", 2, "divergence", ""], ["", None, "test_set_use", ""]],
        columns=["cell", "seed", "check", "message"],
    )  # fmt: skip
    joined = per_cell(found, ["a", "b"])
    assert joined["a"] == "best_epoch_is_last x2; divergence; test_set_use"
    assert joined["b"] == "test_set_use"


def test_runs_without_a_result_in_a_partial_study_are_named():
    runs = [run("a", 1), run("b", 1, status="not_run", reason="not finished")]
    found = warnings_of(runs)
    assert found[["cell", "check"]].values.tolist() == [["b", "not_run"], ["b", "no_result"]]
    assert found["message"].iloc[0] == "seed 1 has no result: not finished"


def test_near_duplicates_and_conflicting_labels_from_the_split_are_study_warnings():
    near = pd.DataFrame(
        {"test_file": ["test/3/x.png", "test/3/x.png", "test/5/y.png"],
         "other_file": ["train/3/a.png", "validation/3/b.png", "train/5/c.png"]}
    )  # fmt: skip
    conflicts = pd.DataFrame({"sha256": ["9", "9"], "file": ["train/1/d.png", "test/7/e.png"]})
    found = study_warnings(
        pd.DataFrame([run("a", 1)]), pd.DataFrame(columns=["cell", "seed", "epoch"]),
        EIGHT_TESTS, 0.25, near_duplicates=near, conflicting_labels=conflicts,
    )  # fmt: skip
    assert found[["cell", "check"]].values.tolist() == [
        ["", "test_set_use"], ["", "conflicting_labels"]
    ]  # fmt: skip
    assert found["message"].iloc[0].startswith("2 test image(s) (25.0% of the 8 in the test")
    assert "test/3/x.png ~ train/3/a.png" in found["message"].iloc[0]
    assert found["message"].iloc[1].startswith("1 images appear under more than one class")
    empty = study_warnings(
        pd.DataFrame([run("a", 1)]), pd.DataFrame(columns=["cell", "seed", "epoch"]), MANIFEST,
        0.25, near_duplicates=near.iloc[:0], conflicting_labels=conflicts.iloc[:0],
    )  # fmt: skip
    assert empty.empty


# Found by `make mutate` (issue 16): each test below kills mutants of ablate.results.checks
# that the tests above let survive.


def test_warning_messages_are_exact():
    runs = [run("a", 1, splits_read="train;test"), run("b", 1, status="failed", reason="x")]
    found = warnings_of(runs).set_index(["cell", "check"])["message"]
    assert found[("a", "test_set_use")] == "training read the test split"
    assert found[("b", "no_result")] == "no seed finished: the cell has no test results"
    near = pd.DataFrame({"test_file": ["test/1/x.png"], "other_file": ["train/1/a.png"]})
    conflicts = pd.DataFrame({"sha256": ["9", "9"], "file": ["train/1/d.png", "test/7/e.png"]})
    found = study_warnings(
        pd.DataFrame([run("a", 1)]), pd.DataFrame(), MANIFEST, 0.25,
        near_duplicates=near, conflicting_labels=conflicts,
    )["message"].tolist()  # fmt: skip
    assert found == [
        "1 test image(s) (100.0% of the 1 in the test split) are near-copies of "
        "train/validation images (re-encoded, shifted, cropped, rescaled or recoloured) (e.g. "
        "test/1/x.png ~ train/1/a.png; all in data/near_duplicates.csv): test accuracy "
        "overstates generalisation",
        "1 images appear under more than one class (data/conflicting_labels.csv): at least "
        "one of each is labelled wrong",
    ]


def test_cells_are_warned_about_in_the_order_of_the_study_not_alphabetically():
    runs = [run("z", 1, status="failed", reason="x"), run("a", 1, status="failed", reason="x"),
            run("m", 1), run("m", 2), run("y", 1), run("y", 2, status="failed", reason="x"),
            run("b", 1), run("b", 2, status="failed", reason="x")]  # fmt: skip
    found = warnings_of(runs)
    assert found.loc[found["check"] == "no_result", "cell"].tolist() == ["z", "a"]
    assert found.loc[found["check"] == "fewer_seeds", "cell"].tolist() == ["y", "b"]


def test_divergence_is_judged_at_the_last_epoch_with_the_gap_included():
    runs = [run("early", 1), run("edge", 1), run("no_accuracy", 1)]
    # "early" diverged in epoch 1 only (listed last): not a warning; "edge" has a gap of
    # exactly 0.25 at its last epoch: a warning.
    early = {"cell": "early", "seed": 1, "epoch": [2, 1], "accuracy": [0.6, 0.9],
             "val_accuracy": [0.55, 0.1]}  # fmt: skip
    histories = [pd.DataFrame(early), history("edge", 1, 0.75, 0.5)]
    found = warnings_of(runs, histories, gap=0.25)
    assert found[["cell", "check"]].values.tolist() == [["edge", "divergence"]]
    # A history without accuracy columns (a study that logs losses only) warns of nothing.
    losses = pd.DataFrame({"cell": ["a"], "seed": [1], "epoch": [1], "loss": [0.3]})
    assert study_warnings(pd.DataFrame([run("a", 1)]), losses, MANIFEST, 0.25).empty


def test_a_two_epoch_run_best_at_its_last_epoch_is_flagged():
    found = warnings_of([run("a", 1, best_epoch=2.0, epochs_run=2.0)])
    assert found[["cell", "check"]].values.tolist() == [["a", "best_epoch_is_last"]]


def test_per_cell_keeps_the_order_of_the_warnings_and_names_its_column():
    found = pd.DataFrame(
        [["a", 1, "divergence", ""], ["a", 1, "best_epoch_is_last", ""],
         ["a", 2, "best_epoch_is_last", ""]],
        columns=["cell", "seed", "check", "message"],
    )  # fmt: skip
    joined = per_cell(found, ["a"])
    assert joined.name == "warnings"
    assert joined["a"] == "divergence; best_epoch_is_last x2"
