"""A real SLURM: the tiny adaptive study submitted through Snakemake's SLURM executor
plugin with the project's profile, to a one-node cluster started here
(tests/slurm/cluster.sh). One submission serves every check: jobs through sbatch one GPU
job at a time, a cancelled train job retried with more time and resumed, the rounds of
adaptive seeds re-planned after each decision, and the same training as a local run."""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import subprocess
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
from conftest import (
    REPO,
    adaptive_config,
    holding,
    snakemake,
    snakemake_command,
    tiny_config,
    wait_for_mark,
    write_config,
)

BASELINE, FROZEN, RUNAWAY = "variant-baseline", "variant-frozen", "variant-runaway"
HELD_AFTER = 3  # the epoch after which the first train job is held, then cancelled

CLUSTER = REPO / "tests" / "slurm" / "cluster.sh"
# The plugin's defaults poll slowly; the options a test cluster without accounting needs.
SLURM = [
    "--workflow-profile", str(REPO / "profiles" / "slurm"),
    "--slurm-status-command", "squeue", "--slurm-no-account",
    "--slurm-init-seconds-before-status-checks", "1", "--slurm-keep-successful-logs",
    "--seconds-between-status-checks", "2", "--latency-wait", "5",
]  # fmt: skip


@pytest.fixture(scope="module")
def cluster():
    if os.geteuid() != 0 or (shutil.which("apt-get") is None and shutil.which("slurmctld") is None):
        pytest.skip("a SLURM test cluster needs root and Debian's slurm-wlm (apt-get)")
    started = subprocess.run(
        ["bash", str(CLUSTER), "start"], capture_output=True, text=True, timeout=900
    )
    if started.returncode != 0:
        pytest.fail(f"could not start the test cluster:\n{started.stdout}\n{started.stderr}")
    yield
    subprocess.run(["bash", str(CLUSTER), "stop"], capture_output=True, timeout=120)


def slurm_jobs() -> list[dict[str, str]]:
    """Every job the cluster still remembers (MinJobAge keeps finished ones), as fields."""
    lines = subprocess.run(
        ["scontrol", "--oneliner", "show", "job"], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    jobs = []
    for line in lines:
        fields = dict(part.split("=", 1) for part in line.split() if "=" in part)
        if "JobId" in fields:
            jobs.append(fields)
    return jobs


def train_jobs(workdir: Path) -> list[dict[str, str]]:
    """The train jobs submitted from ``workdir``, in submission order."""
    jobs = [
        job for job in slurm_jobs()
        if job.get("Comment", "").startswith("rule_train_") and job["WorkDir"] == str(workdir)
    ]  # fmt: skip
    return sorted(jobs, key=lambda job: int(job["JobId"]))


def run_of(job: dict[str, str]) -> tuple[str, int]:
    """(cell, seed) of a train job: the plugin's comment ends with its wildcards' values."""
    _, cell, seed = job["Comment"].rsplit("_", 2)
    return cell, int(seed)


@pytest.fixture(scope="module")
def submitted(cluster, tmp_path_factory):
    """The adaptive study of conftest.adaptive_config through sbatch. The first train job to
    finish epoch 3 is held there (tests/hooks/sitecustomize.py, so no race with a fast
    machine) and cancelled with scancel; the profile's `retries: 1` submits it again."""
    workdir = tmp_path_factory.mktemp("slurm") / "adaptive"
    write_config(workdir, adaptive_config())
    mark = workdir.parent / f"held-after-epoch-{HELD_AFTER}"
    command = snakemake_command(workdir, *SLURM, "--resources", "gpu=1")
    run = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           env=holding(mark, HELD_AFTER))  # fmt: skip
    try:
        wait_for_mark(mark, run)
        running = [job for job in train_jobs(workdir) if job["JobState"] == "RUNNING"]
        assert len(running) == 1
        subprocess.run(["scancel", running[0]["JobId"]], check=True)
        output, _ = run.communicate(timeout=900)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 0, output[-5000:]
    return workdir, output, running[0]


def test_every_job_but_the_local_steps_goes_through_sbatch_one_gpu_job_at_a_time(submitted):
    workdir, output, _ = submitted
    trains = train_jobs(workdir)
    # 3 cells x 2 seeds, the cancelled one again, then 2 open cells (runaway, the
    # baseline) x 1 more seed
    assert len(trains) == 6 + 1 + 2, output[-5000:]
    for job in trains:
        assert f"SLURM jobid {job['JobId']}" in output  # snakemake submitted it via sbatch
        asked = job.get("TresPerJob", "") + job.get("TresPerNode", "")
        assert asked.endswith("gpu:1"), job  # --gpus=1
    assert [job["JobState"] for job in trains].count("COMPLETED") == 8
    spans = sorted(
        (datetime.fromisoformat(job["StartTime"]), datetime.fromisoformat(job["EndTime"]))
        for job in trains
    )
    for before, after in itertools.pairwise(spans):
        assert before[1] <= after[0]  # one GPU on the node: never two train jobs at once
    first_round = sorted(datetime.fromisoformat(job["SubmitTime"]) for job in trains[:6])
    assert first_round[-1] <= spans[0][1]  # queued at once; SLURM held them back
    others = {job["Comment"].split("_wildcards")[0] for job in slurm_jobs()
              if job["WorkDir"] == str(workdir)}  # fmt: skip
    assert {"rule_split", "rule_decode", "rule_evaluate"} <= others
    local = {"rule_download", "rule_decide", "rule_aggregate", "rule_figures", "rule_tables"}
    assert not others & local


def test_a_cancelled_train_job_is_retried_with_the_grown_runtime_and_resumes(submitted):
    """The retry asks for runtime x runtime_growth and resumes after the held epoch."""
    workdir, _, cancelled = submitted
    cell, seed = run_of(cancelled)
    attempts = [job for job in train_jobs(workdir) if run_of(job) == (cell, seed)]
    assert [job["JobState"] for job in attempts] == ["CANCELLED", "COMPLETED"]
    # runtime 10 minutes, times runtime_growth 2 for the second attempt
    assert [job["TimeLimit"] for job in attempts] == ["00:10:00", "00:20:00"]
    folder = workdir / "results" / "adaptive" / "cells" / cell / f"seed-{seed}"
    summary = json.loads((folder / "train.json").read_text())
    assert summary["resumed_after_epoch"] == HELD_AFTER
    epochs = adaptive_config()["base"]["epochs"]
    history = pd.read_csv(folder / "history.csv")
    assert history["epoch"].tolist() == list(range(1, epochs + 1))  # no gap, no duplicate


def test_an_adaptive_study_runs_its_rounds_through_sbatch(submitted):
    """Checkpoints on a cluster: the first round's jobs are submitted, the decision (a
    local rule) re-plans, the second round's jobs are submitted, and a second snakemake
    has nothing to do."""
    workdir, _, _ = submitted
    first = json.loads((workdir / "results/adaptive/rounds/round-0.json").read_text())
    assert first["next"] == [RUNAWAY, BASELINE]
    second_round = {run_of(job) for job in train_jobs(workdir)[7:]}
    assert second_round == {(RUNAWAY, 3), (BASELINE, 3)}
    runs = pd.read_csv(workdir / "results/adaptive/runs.csv")
    assert runs.groupby("cell")["seed"].apply(sorted).to_dict() == {
        BASELINE: [1, 2, 3], FROZEN: [1, 2], RUNAWAY: [1, 2, 3]
    }  # fmt: skip
    dry = snakemake(workdir, *SLURM, "--dry-run")
    assert "Nothing to be done" in dry.stdout + dry.stderr


def test_the_cluster_writes_what_a_local_run_writes_with_the_same_training(submitted, adaptive_run):
    """The same study run locally (conftest.adaptive_run, one thread per train job as
    here): the same artifacts, and the same histories; the cancelled run's up to the
    epoch it was held after (its resumed epochs start a fresh process)."""
    workdir, _, cancelled = submitted
    runs = {"slurm": workdir, "local": adaptive_run}
    files = {
        name: sorted(
            p.relative_to(top / "results").as_posix()
            for p in (top / "results").rglob("*")
            if p.is_file() and "/logs/" not in p.as_posix() and "/benchmarks/" not in p.as_posix()
        )
        for name, top in runs.items()
    }
    assert files["slurm"] == files["local"]
    resumed = "adaptive/cells/{}/seed-{}".format(*run_of(cancelled))
    histories = [
        Path(f).parent.as_posix()
        for f in files["local"]
        if f.endswith("/history.csv") and "/cells/" in f
    ]
    assert resumed in histories and len(histories) == 8
    columns = ["loss", "val_loss", "val_accuracy"]
    for run in histories:
        slurm, local = (pd.read_csv(top / "results" / run / "history.csv")[columns]
                        for top in runs.values())  # fmt: skip
        if run == resumed:
            slurm, local = slurm.head(HELD_AFTER), local.head(HELD_AFTER)
        pd.testing.assert_frame_equal(slurm, local, rtol=1e-4)


def test_the_profiles_grouping_runs_each_train_with_its_evaluate_as_one_job(tmp_path):
    """The profile's opt-in `groups` line, uncommented: every run's train and evaluate form
    one group job (one submission), and nothing else joins it. A dry run: no cluster."""
    profile = (REPO / "profiles" / "slurm" / "config.yaml").read_text()
    grouped = re.sub(r"^# (groups: .*)$", r"\1", profile, flags=re.MULTILINE)
    assert grouped != profile
    (tmp_path / "profile").mkdir()
    (tmp_path / "profile" / "config.yaml").write_text(grouped)
    write_config(tmp_path / "study", tiny_config(seeds=[1]))
    result = snakemake(
        tmp_path / "study", "-n", "--workflow-profile", str(tmp_path / "profile"),
        "--slurm-no-account",
    )  # fmt: skip
    output = result.stdout + result.stderr
    groups = re.split(r"^\S.*Group job \S+ \(jobs in lexicogr\. order\):$", output, flags=re.M)[1:]
    runs = []
    for group in groups:
        members = re.findall(r"^    rule (\w+):\n(?:    .*\n)*?        wildcards: (.*)$",
                             group.split("\n[", 1)[0] + "\n", flags=re.M)  # fmt: skip
        assert sorted(rule for rule, _ in members) == ["evaluate", "train"], group
        assert len({wildcards for _, wildcards in members}) == 1  # the same cell and seed
        runs.append(members[0][1])
    assert len(set(runs)) == 3  # one group per run of the study (3 cells, 1 seed)
