import json

import pandas as pd
import pytest
from synthetic import outcomes_of

from ablate.results.aggregate import collect_histories, collect_runs, summarise
from ablate.results.checks import missing_cells
from ablate.results.sequential import nominal_alphas
from ablate.results.verdicts import compare


def summary_of(runs):
    return summarise(runs, ["reg"], "reg-none", outcomes_of(runs), 0.005)


RUNS = [
    {"cell": cell, "seed": seed, "levels": {"reg": level}}
    for cell, level in [("reg-none", "none"), ("reg-dropout", "dropout")]
    for seed in (1, 2)
]


@pytest.fixture
def run_files(tmp_path):
    train, test, history = [], [], []
    for index, run in enumerate(RUNS):
        folder = tmp_path / run["cell"] / str(run["seed"])
        folder.mkdir(parents=True)
        summary = {
            "best_epoch": 2, "epochs_run": 3, "best_val_loss": 0.5, "best_val_accuracy": 0.8,
            "train_seconds": 10.0 + index, "images_per_second": 100.0, "num_params": 1234,
        }  # fmt: skip
        metrics = {"accuracy": 0.5 + index / 10, "loss": 1.0, "macro_f1": 0.4, "images": 20}
        (folder / "train.json").write_text(json.dumps(summary))
        (folder / "metrics.json").write_text(json.dumps(metrics))
        pd.DataFrame(
            {"epoch": [1, 2, 3], "accuracy": [0.1, 0.2, 0.3], "val_loss": [3.0, 2.0, 2.5]}
        ).to_csv(folder / "history.csv", index=False)
        train.append(folder / "train.json")
        test.append(folder / "metrics.json")
        history.append(folder / "history.csv")
    return train, test, history


def test_one_row_per_cell_and_seed_with_factor_columns(run_files):
    train, test, _ = run_files
    runs = collect_runs("study-x", RUNS, train, test)
    assert len(runs) == 4
    assert list(runs.columns[:4]) == ["study", "cell", "reg", "seed"]
    assert runs["test_accuracy"].tolist() == pytest.approx([0.5, 0.6, 0.7, 0.8])
    assert runs.loc[2, "reg"] == "dropout"
    assert (runs["study"] == "study-x").all()


def test_summary_gives_mean_std_and_n_per_cell(run_files):
    train, test, _ = run_files
    summary = summary_of(collect_runs("s", RUNS, train, test))
    first = summary.set_index("cell").loc["reg-none"]
    assert first["test_accuracy_mean"] == pytest.approx(0.55)
    assert first["test_accuracy_std"] == pytest.approx(0.0707107, rel=1e-5)
    assert first["n"] == 2
    assert summary["baseline"].tolist() == [True, False]
    assert "train_seconds_mean" in summary.columns


def test_histories_keep_the_runs_epochs_counted_from_one(run_files):
    _, _, history = run_files
    table = collect_histories(RUNS, history)
    assert len(table) == 12
    assert list(table.columns[:4]) == ["cell", "reg", "seed", "epoch"]
    assert sorted(table["epoch"].unique()) == [1, 2, 3]


def test_mismatched_inputs_are_an_error(run_files):
    train, test, _ = run_files
    with pytest.raises(ValueError):
        collect_runs("s", RUNS, train[:3], test)


def test_a_failed_run_keeps_its_row_with_the_reason_and_no_metrics(run_files, tmp_path):
    train, test, _ = run_files
    failed = {"status": "failed", "reason": "loss became NaN in epoch 2", "epochs_run": 2}
    (tmp_path / "failed.json").write_text(json.dumps(failed))
    (tmp_path / "not_scored.json").write_text(
        json.dumps({"status": "failed", "accuracy": None, "loss": None, "images": 0})
    )
    train[3], test[3] = tmp_path / "failed.json", tmp_path / "not_scored.json"
    runs = collect_runs("s", RUNS, train, test)
    assert runs["status"].tolist() == ["ok", "ok", "ok", "failed"]
    assert runs.loc[3, "reason"] == "loss became NaN in epoch 2"
    assert runs.loc[3, ["test_accuracy", "best_epoch", "train_seconds"]].isna().all()
    summary = summary_of(runs).set_index("cell")
    assert summary.loc["reg-dropout", "n"] == 1 and summary.loc["reg-dropout", "failed"] == 1
    assert summary.loc["reg-dropout", "test_accuracy_mean"] == pytest.approx(0.7)
    assert missing_cells(runs) == []
    runs.loc[2, "status"] = "failed"
    assert missing_cells(runs) == ["reg-dropout"]


def test_summary_has_intervals_and_the_paired_comparison_with_the_baseline(run_files):
    train, test, _ = run_files
    summary = summary_of(collect_runs("s", RUNS, train, test))
    dropout = summary.set_index("cell").loc["reg-dropout"]
    # test accuracy 0.7 and 0.8 over two seeds and 1,000 test images: a seed spread on one
    # degree of freedom (t quantile 12.7), so wide, but inside [0, 1]
    low, high = dropout["test_accuracy_ci_low"], dropout["test_accuracy_ci_high"]
    assert 0.0 < low < 0.7 and 0.8 < high < 1.0
    # seed 1: 0.7 - 0.5, seed 2: 0.8 - 0.6: each cell's two seeds lie 10 points apart, but
    # paired by seed the difference is +0.2 in both: the spread is the seeds' shared part
    assert dropout["vs_baseline_n_pairs"] == 2
    assert dropout["vs_baseline_difference"] == pytest.approx(0.2)
    assert dropout["vs_baseline_verdict"] == "better"
    assert dropout["vs_baseline_seed_df"] == 1  # two cells: nothing pooled
    assert dropout["vs_baseline_advice"] == ""
    assert summary.set_index("cell").loc["reg-none", "vs_baseline_advice"] == ""
    assert list(summary.columns[:4]) == ["study", "cell", "reg", "baseline"]


def test_runs_not_finished_in_a_partial_study_get_a_row_each(run_files):
    train, test, _ = run_files
    not_run = [{"cell": "reg-dropout", "seed": 3, "levels": {"reg": "dropout"}}]
    runs = collect_runs("s", RUNS, train, test, not_run=not_run)
    assert runs["status"].tolist() == ["ok"] * 4 + ["not_run"]
    assert runs.loc[4, ["cell", "reg", "seed"]].tolist() == ["reg-dropout", "dropout", 3]
    assert "has not run" in runs.loc[4, "reason"] and pd.isna(runs.loc[4, "test_accuracy"])
    summary = summary_of(runs).set_index("cell")
    dropout = summary.loc["reg-dropout", ["n", "failed", "not_run"]].tolist()
    assert dropout == [2, 0, 1]
    assert collect_histories([], []).empty  # nothing finished yet


def test_a_partial_look_before_any_run_finished_lists_every_run_as_not_run():
    from ablate.results.checks import study_warnings

    not_run = [{"cell": cell, "seed": seed, "levels": {"reg": cell.removeprefix("reg-")}}
               for cell in ("reg-none", "reg-dropout") for seed in (1, 2)]  # fmt: skip
    runs = collect_runs("s", [], [], [], not_run=not_run)
    assert runs["status"].tolist() == ["not_run"] * 4
    assert "epochs_run" in runs and runs["test_accuracy"].isna().all()
    history = collect_histories([], [])
    manifest = pd.DataFrame(columns=["file", "class", "split", "sha256"])
    warnings = study_warnings(runs, history, manifest, 0.25)
    assert (warnings["check"] == "not_run").sum() == 4
    summary = summary_of(runs)
    assert summary["n"].tolist() == [0, 0] and summary["not_run"].tolist() == [2, 2]
    assert summary["failed"].tolist() == [0, 0]  # nothing failed: it has not run yet
    assert summary.loc[1, "vs_baseline_verdict"] == "undecided"


def test_an_adaptive_summary_takes_each_verdict_at_the_look_that_stopped_it(run_files):
    train, test, _ = run_files
    runs = collect_runs("s", RUNS, train, test)
    # per-seed differences +0.2 and +0.15: two seeds cannot decide that at any level
    runs.loc[(runs["cell"] == "reg-dropout") & (runs["seed"] == 2), "test_accuracy"] = 0.75
    looks = [1, 2, 3]  # the study's two seeds were its second look of three
    rounds = {
        "reg-dropout": {"state": "stopped", "round": 1, "verdict": "undecided", "why": "w"},
        "reg-none": {"state": "stopped", "round": 1, "verdict": "", "why": "the reference"},
    }
    outcomes = outcomes_of(runs)
    adaptive = summarise(runs, ["reg"], "reg-none", outcomes, 0.005, rounds=rounds,
                         looks=looks).set_index("cell")  # fmt: skip
    fixed = summary_of(runs).set_index("cell")
    alpha = nominal_alphas(looks)[1]
    expected = compare(outcomes.correct("reg-dropout"), outcomes.correct("reg-none"), 0.005,
                       alpha=alpha)  # fmt: skip
    row = adaptive.loc["reg-dropout"]
    assert (row["vs_baseline_ci_low"], row["vs_baseline_ci_high"]) == pytest.approx(
        (expected.ci_low, expected.ci_high)
    )
    # a stricter level than 0.05: the repeated interval is wider than the fixed one
    assert row["vs_baseline_ci_low"] < fixed.loc["reg-dropout", "vs_baseline_ci_low"]
    # undecided with a look left: the chance that the last look would decide it
    assert 0 <= row["vs_baseline_conditional_power"] <= 1
    assert fixed["vs_baseline_conditional_power"].isna().all()
    assert adaptive["rounds"].tolist() == [2, 2]
    assert adaptive["stopped_because"].tolist() == ["the reference", "w"]
    assert "rounds" not in fixed
