"""What `python -m ablate.plan` says, line by line, in-process: the dry run is replaced by a
fixed list of jobs (tests/test_plan.py runs the real one end to end), the kept params and
benchmark files are written as a finished run leaves them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from ablate import paths, plan
from ablate.config import resolve_study
from ablate.settings import describe_cell, run_params

CONFIG = {
    "study": "s",
    "dataset": {"source": "builtin:digits"},
    "base": {"model": {"name": "small_convnet", "filters": [4, 8]}, "epochs": 2},
    "factors": {"drop": {"none": {}, "half": {"model": {"dropout": 0.5}}}},
    "seeds": [1, 2],
}
NONE, HALF = "drop-none", "drop-half"


def train(cell: str, seed: int, reason: str = "") -> plan.Job:
    return "train", {"study": "s", "cell": cell, "seed": str(seed), "reason": reason}


@pytest.fixture
def study(tmp_path, monkeypatch):
    """A config file in ``tmp_path``, and ``jobs`` that the dry run will report."""
    configfile = tmp_path / "config.yaml"
    configfile.write_text(yaml.safe_dump(CONFIG))
    jobs: list[plan.Job] = []

    def dry_run(workdir, config, extra=()):
        assert (workdir, config, tuple(extra)) == (tmp_path, configfile, EXTRA)
        return list(jobs)

    monkeypatch.setattr(plan, "dry_run", dry_run)
    return configfile, jobs


EXTRA = ("--forcerun", "train")  # more snakemake options, handed on


def keep_params(workdir: Path, cell: str, seed: int, **changes) -> None:
    """The params.yaml a finished run left, with ``changes`` to its settings."""
    resolved = resolve_study(CONFIG, workdir)
    settings = {**resolved.cells[cell].settings.as_dict(), **changes}
    params = run_params(describe_cell(resolved, cell), seed, resolved.dataset.images(), settings)
    # as a train job writes it: a record of what ran beside the settings, not a setting
    params["provenance"] = {"workflow": {"commit": "0" * 40, "dirty": False}}
    path = workdir / paths.fill(paths.PARAMS, study="s", cell=cell, seed=seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(params))


def benchmark(workdir: Path, cell: str, seed: int, *seconds: float) -> None:
    """Snakemake's benchmark file of a train job (one row per try)."""
    path = workdir / paths.fill(paths.benchmark("train", per="run"), study="s", cell=cell,
                                seed=seed)  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = "".join(f"{s}\t0:00:{int(s):02d}\t100\n" for s in seconds)
    path.write_text("s\th:m:s\tmax_rss\n" + rows)


def test_differences_name_each_changed_setting_by_its_path():
    old = {"model": {"name": "m", "dropout": 0.0}, "epochs": 2, "gone": 1}
    new = {"model": {"name": "m", "dropout": 0.5, "head": 8}, "epochs": 2}
    assert plan.differences(old, new) == [
        "gone: 1 -> (unset)",
        "model.dropout: 0.0 -> 0.5",
        "model.head: (unset) -> 8",
    ]
    assert plan.differences(old, old) == []
    assert plan.differences({"a": {"b": 1}}, {"a": 5}) == ["a: {'b': 1} -> 5"]
    assert plan.differences({1: "x", "b": 2}, {1: "y", "b": 2}) == ["1: x -> y"]  # mixed keys


def test_past_seconds_take_the_last_try_of_each_finished_train_job(tmp_path):
    benchmark(tmp_path, NONE, 1, 30.0, 12.5)  # retried: the last try counts
    benchmark(tmp_path, HALF, 2, 20.0)
    empty = tmp_path / paths.fill(paths.benchmark("train", per="run"), study="s", cell=HALF,
                                  seed=1)  # fmt: skip
    empty.write_text("s\th:m:s\n")  # written, no row yet
    assert plan.past_seconds(tmp_path, "s") == {(NONE, "1"): 12.5, (HALF, "2"): 20.0}


def test_the_plan_says_why_each_train_job_runs_and_how_long_they_take(study, tmp_path):
    configfile, jobs = study
    keep_params(tmp_path, NONE, 1, epochs=3, batch_size=64)  # the config now says 2 and 32
    keep_params(tmp_path, NONE, 2)  # the same settings: Snakemake's reason is all there is
    benchmark(tmp_path, NONE, 1, 120.0)
    benchmark(tmp_path, HALF, 1, 240.0)
    jobs += [train(NONE, 1), train(NONE, 2, "Input files updated by another job"),
             train(HALF, 2), ("aggregate", {"study": "s"})]  # fmt: skip
    assert plan.plan(tmp_path, configfile, gpus=2, extra=EXTRA).splitlines() == [
        "study s: 4 job(s) to run, 3 of them training",
        f"  {NONE} seed 1: batch_size: 64 -> 32; epochs: 3 -> 2",
        f"  {NONE} seed 2: Input files updated by another job",
        f"  {HALF} seed 2: new",
        # 120 s (its own last run) + 180 s twice (the median of runs done) = 8 min
        "estimated training time: 8.0 min of train jobs, about 4.0 min with 2 GPU slot(s) "
        "in parallel",
    ]
    keep_params(tmp_path, NONE, 2)
    jobs[1] = train(NONE, 2)
    lines = plan.plan(tmp_path, configfile, extra=EXTRA).splitlines()
    assert f"  {NONE} seed 2: inputs changed" in lines
    assert lines[-1].endswith("about 8.0 min with 1 GPU slot(s) in parallel")


def test_without_any_timing_the_plan_says_so(study, tmp_path):
    configfile, jobs = study
    jobs += [train(NONE, 1), train(HALF, 1)]
    assert plan.plan(tmp_path, configfile, extra=EXTRA).splitlines()[-1] == (
        "no finished train job yet: no time estimate"
    )
    jobs.clear()
    assert (
        plan.plan(tmp_path, configfile, extra=EXTRA)
        == "study s: 0 job(s) to run, 0 of them training"
    )


def test_an_adaptive_plan_gives_the_range_and_each_cells_state(study, tmp_path):
    configfile, jobs = study
    configfile.write_text(yaml.safe_dump({**CONFIG, "seeds": {"min": 2, "max": 6, "step": 2}}))
    resolved = resolve_study(yaml.safe_load(configfile.read_text()), tmp_path)
    lines = plan.adaptive_lines(resolved, tmp_path, typical=None)
    assert lines == [
        "adaptive seeds: 4 to 12 train jobs in all, 3 rounds (2 to 6 seeds per cell); the dry "
        "run lists the jobs up to the next decision",
        "no round decided yet: every cell is open",
    ]
    for number, state in enumerate(("open", "stopped", "open")):  # as if re-decided
        path = tmp_path / paths.fill(paths.ROUND, study="s", round=number)
        path.parent.mkdir(parents=True, exist_ok=True)
        cells = {NONE: {"state": "open", "why": "the reference"},
                 HALF: {"state": state, "why": f"round {number}"}}  # fmt: skip
        path.write_text(json.dumps({"round": number, "cells": cells}))
    assert plan.adaptive_lines(resolved, tmp_path, typical=75.0) == [
        "adaptive seeds: 4 to 12 train jobs in all, 3 rounds (2 to 6 seeds per cell), about "
        "5.0 to 15.0 min of training; the dry run lists the jobs up to the next decision",
        "after round 3: 2 cell(s) open",  # the last round decided so far
        f"  {NONE}: open (the reference)",
        f"  {HALF}: open (round 2)",
    ]
    jobs.append(train(NONE, 5))
    benchmark(tmp_path, NONE, 1, 30.0)  # the time per job of the runs done so far
    lines = plan.plan(tmp_path, configfile, extra=EXTRA).splitlines()
    assert lines[2].startswith("adaptive seeds: 4 to 12 train jobs in all") and (
        "about 2.0 to 6.0 min of training" in lines[2]
    )
    assert lines[3] == "after round 3: 2 cell(s) open"
