"""A real SLURM: the tiny study submitted through Snakemake's SLURM executor plugin with
the project's profile, to a one-node cluster started here (tests/slurm/cluster.sh)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import (
    REPO,
    adaptive_config,
    snakemake,
    snakemake_command,
    tiny_config,
    write_config,
)

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


def cluster_config(**overrides):
    config = tiny_config(design="list", cells=[{}, {"regularization": "dropout"}], seeds=[1])
    config["resources"] = {"cpus": 1, "mem_mb": 1000, "runtime": 10}
    config.update(overrides)
    return config


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
    return [
        job for job in slurm_jobs()
        if job.get("Comment", "").startswith("rule_train_") and job["WorkDir"] == str(workdir)
    ]  # fmt: skip


def test_the_tiny_study_runs_through_sbatch_one_gpu_job_at_a_time(cluster, tmp_path):
    write_config(tmp_path / "slurm", cluster_config())
    # gpu is a per-job resource: this caps GPUs per job, not train jobs in the cluster.
    result = snakemake(tmp_path / "slurm", *SLURM, "--resources", "gpu=1")
    output = result.stdout + result.stderr
    trains = train_jobs(tmp_path / "slurm")
    assert len(trains) == 2, output
    for job in trains:
        assert f"SLURM jobid {job['JobId']}" in output  # snakemake submitted it via sbatch
        assert job["JobState"] == "COMPLETED"
        asked = job.get("TresPerJob", "") + job.get("TresPerNode", "")
        assert asked.endswith("gpu:1"), job  # --gpus=1
    spans = sorted(
        (datetime.fromisoformat(job["StartTime"]), datetime.fromisoformat(job["EndTime"]))
        for job in trains
    )
    assert spans[0][1] <= spans[1][0]  # one GPU on the node: never two train jobs at once
    submitted = sorted(datetime.fromisoformat(job["SubmitTime"]) for job in trains)
    assert submitted[1] <= spans[0][1]  # both were queued at once; SLURM held the second
    others = {job["Comment"].split("_wildcards")[0] for job in slurm_jobs()
              if job["WorkDir"] == str(tmp_path / "slurm")}  # fmt: skip
    assert {"rule_split", "rule_decode", "rule_evaluate"} <= others
    assert not others & {"rule_download", "rule_aggregate", "rule_figures"}  # local rules

    # The same study run locally writes the same artifacts, with the same training.
    write_config(tmp_path / "local", cluster_config())
    snakemake(tmp_path / "local", "--cores", "2", "--resources", "gpu=1")
    files = {
        name: sorted(
            p.relative_to(tmp_path / name / "results").as_posix()
            for p in (tmp_path / name / "results").rglob("*")
            if p.is_file() and "/logs/" not in p.as_posix() and "/benchmarks/" not in p.as_posix()
        )
        for name in ("slurm", "local")
    }
    assert files["slurm"] == files["local"]
    for cell_seed in {Path(f).parent for f in files["local"] if f.endswith("history.csv")}:
        histories = [pd.read_csv(tmp_path / n / "results" / cell_seed / "history.csv")
                     for n in ("slurm", "local")]  # fmt: skip
        columns = ["loss", "val_loss", "val_accuracy"]
        pd.testing.assert_frame_equal(histories[0][columns], histories[1][columns], rtol=1e-4)


def test_a_cancelled_train_job_is_retried_with_the_grown_runtime_and_resumes(cluster, tmp_path):
    """The profile's retry: the train job, cancelled once it has finished epoch 3 (held
    there by tests/slurm/sitecustomize.py, so no race with a fast machine), is submitted
    again by the same snakemake with runtime x runtime_growth, and resumes after epoch 3."""
    config = cluster_config(cells=[{}])
    config["base"]["epochs"] = 12
    config["resources"]["runtime_growth"] = 2
    write_config(tmp_path, config)
    mark = tmp_path / "held-after-epoch-3"
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(CLUSTER.parent), os.environ.get("PYTHONPATH", "")]),
        "ABLATE_TEST_HOLD_AFTER_EPOCH": "3",
        "ABLATE_TEST_HOLD_MARK": str(mark),
    }
    command = snakemake_command(tmp_path, *SLURM)  # the profile's `retries: 1`
    run = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=environment
    )
    try:
        deadline = time.monotonic() + 600  # a bound on a hang, not a condition of the test
        while not mark.exists():
            assert run.poll() is None, run.stdout.read()
            assert time.monotonic() < deadline, "the train job never finished epoch 3"
            time.sleep(0.5)
        running = [job for job in train_jobs(tmp_path) if job["JobState"] == "RUNNING"]
        assert len(running) == 1
        subprocess.run(["scancel", running[0]["JobId"]], check=True)
        output, _ = run.communicate(timeout=900)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 0, output[-5000:]
    jobs = sorted(train_jobs(tmp_path), key=lambda job: int(job["JobId"]))
    assert [job["JobState"] for job in jobs] == ["CANCELLED", "COMPLETED"]
    # runtime 10 minutes, times runtime_growth for the second attempt
    assert [job["TimeLimit"] for job in jobs] == ["00:10:00", "00:20:00"]
    summary_path = next((tmp_path / "results" / "tiny" / "cells").rglob("train.json"))
    summary = yaml.safe_load(summary_path.read_text())
    assert summary["resumed_after_epoch"] == 3
    history = pd.read_csv(summary_path.parent / "history.csv")
    assert history["epoch"].tolist() == list(range(1, 13))  # from 1; no gap, no duplicate


def test_the_profiles_grouping_runs_each_train_with_its_evaluate_as_one_job(tmp_path):
    """The profile's opt-in `groups` line, uncommented: every run's train and evaluate form
    one group job (one submission), and nothing else joins it. A dry run: no cluster."""
    profile = (REPO / "profiles" / "slurm" / "config.yaml").read_text()
    grouped = re.sub(r"^# (groups: .*)$", r"\1", profile, flags=re.MULTILINE)
    assert grouped != profile
    (tmp_path / "profile").mkdir()
    (tmp_path / "profile" / "config.yaml").write_text(grouped)
    write_config(tmp_path / "study", cluster_config())
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
    assert len(set(runs)) == 2  # one group per run of the study


def test_an_adaptive_study_runs_its_rounds_through_sbatch(cluster, tmp_path):
    """Checkpoints on a cluster: the first round's jobs are submitted, the decision (a
    local rule) re-plans, the second round's jobs are submitted, and a second snakemake
    has nothing to do."""
    config = adaptive_config()
    del config["factors"]["variant"]["frozen"]  # the baseline and a level still open after 2
    config["resources"] = {"cpus": 1, "mem_mb": 1000, "runtime": 10}
    workdir = tmp_path / "adaptive"
    write_config(workdir, config)
    result = snakemake(workdir, *SLURM, "--resources", "gpu=1")
    trains = train_jobs(workdir)
    assert len(trains) == 6, result.stdout + result.stderr  # 2 cells x (2 + 1) seeds
    assert {job["JobState"] for job in trains} == {"COMPLETED"}
    first = json.loads((workdir / "results/adaptive/rounds/round-0.json").read_text())
    assert first["next"] == ["variant-nudged", "variant-baseline"]
    runs = pd.read_csv(workdir / "results/adaptive/runs.csv")
    assert runs.groupby("cell")["seed"].apply(sorted).to_dict() == {
        "variant-baseline": [1, 2, 3], "variant-nudged": [1, 2, 3]
    }  # fmt: skip
    dry = snakemake(workdir, *SLURM, "--dry-run")
    assert "Nothing to be done" in dry.stdout + dry.stderr
