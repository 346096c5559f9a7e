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
