"""End to end: an adaptive study runs its rounds through the real snakemake (checkpoints)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pandas as pd
import pytest
import yaml
from conftest import REPO, adaptive_config, planned_jobs, snakemake, write_config

from ablate.results.sequential import nominal_alphas

# The study of conftest.adaptive_config, run once for the session (conftest.adaptive_run).
BASELINE, FROZEN, RUNAWAY = "variant-baseline", "variant-frozen", "variant-runaway"


def study_dir(workdir):
    return workdir / "results" / "adaptive"


def test_the_clearly_worse_cell_stops_at_min_and_the_open_one_gets_more_seeds(adaptive_run):
    first = json.loads((study_dir(adaptive_run) / "rounds" / "round-0.json").read_text())
    assert first["cells"][FROZEN]["state"] == "stopped"
    assert first["cells"][FROZEN]["verdict"] == "worse"
    assert first["cells"][RUNAWAY]["state"] == "open"  # no seed to compare yet
    assert first["next"] == [RUNAWAY, BASELINE]  # the baseline trains as long as a cell does
    # The first look's spending level (2 of 3 seeds seen), not 0.05
    assert first["alpha"] == pytest.approx(nominal_alphas([2, 3])[0]) and first["alpha"] < 0.04
    last = json.loads((study_dir(adaptive_run) / "rounds" / "round-1.json").read_text())
    assert last["next"] == [] and last["cells"][FROZEN] == first["cells"][FROZEN]
    runs = pd.read_csv(study_dir(adaptive_run) / "runs.csv")
    seeds = runs.groupby("cell")["seed"].apply(sorted).to_dict()
    assert seeds == {BASELINE: [1, 2, 3], FROZEN: [1, 2], RUNAWAY: [1, 2, 3]}
    assert set(runs.loc[runs["cell"] == RUNAWAY, "status"]) == {"failed"}
    assert not (study_dir(adaptive_run) / "cells" / FROZEN / "seed-3").exists()


def test_the_summary_says_how_many_seeds_each_cell_got_and_why_it_stopped(adaptive_run):
    summary = pd.read_csv(study_dir(adaptive_run) / "summary.csv").set_index("cell")
    assert summary.loc[[BASELINE, FROZEN, RUNAWAY], "n"].tolist() == [3, 2, 0]
    assert summary.loc[RUNAWAY, "failed"] == 3
    assert summary.loc[[BASELINE, FROZEN, RUNAWAY], "rounds"].tolist() == [2, 1, 2]
    assert summary.loc[FROZEN, "stopped_because"].startswith("decided after 2 seed(s): worse")
    assert summary.loc[FROZEN, "vs_baseline_verdict"] == "worse"
    # The verdict shown is the one taken at the look that stopped the cell, at its level,
    # on the seeds it had then (the baseline went on to 3).
    assert summary.loc[FROZEN, "vs_baseline_p_value"] < nominal_alphas([2, 3])[0]
    assert summary.loc[FROZEN, "vs_baseline_n_pairs"] == 2
    runaway = summary.loc[RUNAWAY]
    assert runaway["stopped_because"].startswith("still undecided at the maximum seeds")
    assert "no seed finished in both cells" in runaway["stopped_because"]
    assert runaway["vs_baseline_n_pairs"] == 0 and runaway["vs_baseline_verdict"] == "undecided"


def test_a_finished_adaptive_study_is_up_to_date_and_the_plan_says_why(adaptive_run):
    dry = snakemake(adaptive_run, "--dry-run")
    assert "Nothing to be done" in dry.stdout + dry.stderr
    plan = subprocess.run(
        [sys.executable, "-m", "ablate.plan", "--directory", str(adaptive_run),
         "--configfile", str(adaptive_run / "config.yaml")],
        capture_output=True, text=True, check=True, cwd=REPO / "workflow" / "scripts",
    ).stdout  # fmt: skip
    assert "adaptive seeds: 6 to 9 train jobs in all, 2 rounds" in plan
    assert "after round 2: 0 cell(s) open" in plan
    assert f"{FROZEN}: stopped (decided after 2 seed(s): worse" in plan


def test_a_reordered_config_reruns_nothing_and_a_decision_only_its_own_checks(
    adaptive_run, tmp_path
):
    config = yaml.safe_load((adaptive_run / "config.yaml").read_text())

    def planned(**checks: float) -> set[str]:
        # sort_keys: every mapping in another order than the one the study ran with
        changed = tmp_path / "changed.yaml"
        written = {**config, "checks": {**config["checks"], **checks}}
        changed.write_text(yaml.safe_dump(written, sort_keys=True))
        dry = snakemake(adaptive_run, "--dry-run", "--configfile", str(changed))
        return {rule for rule, _ in planned_jobs(dry)}

    assert planned() == set()
    assert planned(divergence_gap=0.3) & {"split", "train", "evaluate", "decide"} == set()
    assert "decide" in planned(futility=0.3)


def test_with_keep_going_an_adaptive_study_summarises_what_finished(adaptive_run, tmp_path):
    """A new cell whose train jobs crash holds back the re-decided first round; with
    --keep-going the finished rounds' runs are summarised anyway, and the next run trains
    only the crashed cell's first round."""
    workdir = tmp_path / "study"
    shutil.copytree(adaptive_run, workdir, symlinks=True)  # the rounds run so far
    config = adaptive_config()
    # Keras refuses a negative momentum when the job builds the optimizer.
    config["factors"]["variant"]["crash"] = {
        "optimizer": {"name": "sgd", "learning_rate": 0.01, "momentum": -1}
    }
    write_config(workdir, config)
    result = snakemake(workdir, "--cores", "2", "--keep-going", check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]
    assert "summarising the runs that finished" in output
    crashed = "variant-crash"
    runs = pd.read_csv(study_dir(workdir) / "runs.csv")
    ok = runs[runs["status"] == "ok"].groupby("cell")["seed"].apply(sorted).to_dict()
    assert ok == {BASELINE: [1, 2, 3], FROZEN: [1, 2]}
    assert runs.loc[runs["cell"] == crashed, "status"].tolist() == ["not_run", "not_run"]
    summary = pd.read_csv(study_dir(workdir) / "summary.csv").set_index("cell")
    assert summary["n"].to_dict() == {BASELINE: 3, FROZEN: 2, RUNAWAY: 0, crashed: 0}
    assert "not_run" in summary.loc[crashed, "warnings"]
    jobs = planned_jobs(snakemake(workdir, "--dry-run"))
    trains = sorted((w["cell"], w["seed"]) for rule, w in jobs if rule == "train")
    assert trains == [(crashed, "1"), (crashed, "2")]
    assert "decide" in {rule for rule, _ in jobs}


def test_a_fresh_adaptive_study_plans_its_first_round_up_to_the_decision(tmp_path):
    write_config(tmp_path, adaptive_config())
    dry = snakemake(tmp_path, "--dry-run")
    out = dry.stdout + dry.stderr
    assert "decide" in out and "checkpoint jobs" in out
    trains = [line for line in out.splitlines() if line.startswith("train ")]
    assert trains and trains[0].split()[1] == "6"  # 3 cells x the first 2 seeds


def test_the_report_says_the_seeds_were_adaptive_and_shows_why_cells_stopped(adaptive_run):
    report = adaptive_run / "report.html"
    snakemake(adaptive_run, "--report", str(report))
    html = report.read_text()
    assert "adaptively: seeds 1 to 2, then 1" in html  # not "min, max, step"
    page = (study_dir(adaptive_run) / "tables" / "summary.html").read_text()
    assert "stopped because" in page and "decided after 2 seed(s): worse" in page
