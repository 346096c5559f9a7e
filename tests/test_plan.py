"""python -m ablate.plan: what would run, why, and how long it should take."""

from __future__ import annotations

import subprocess
import sys

from conftest import snakemake, tiny_config, write_config

from ablate.plan import parse_dry_run


def test_plan_names_new_and_changed_cells_and_estimates_the_time(tmp_path):
    config = tiny_config(design="list", cells=[{}, {"regularization": "dropout"}], seeds=[1])
    config["base"]["epochs"] = 1
    write_config(tmp_path, config)
    snakemake(tmp_path, "--cores", "2", "--resources", "gpu=1")

    config["factors"]["regularization"]["dropout"] = {"model": {"dropout": 0.5}}
    config["cells"].append({"augmentation": "geometric"})
    write_config(tmp_path, config)
    result = subprocess.run(
        [sys.executable, "-m", "ablate.plan", "--configfile", str(tmp_path / "config.yaml"),
         "--directory", str(tmp_path), "--gpus", "2"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    lines = result.stdout.splitlines()
    assert lines[0].startswith("study tiny:") and "2 of them training" in lines[0]
    assert "  augmentation-none__regularization-dropout seed 1: model.dropout: 0.3 -> 0.5" in lines
    assert "  augmentation-geometric__regularization-none seed 1: new" in lines
    assert not any("augmentation-none__regularization-none" in line for line in lines)
    estimate = lines[-1]
    assert estimate.startswith("estimated training time:") and "with 2 GPU slot(s)" in estimate
    minutes = float(estimate.split(":")[1].split("min")[0])
    assert minutes > 0


def test_the_dry_run_parser_reads_checkpoint_jobs_and_keeps_each_reason_with_its_job():
    output = """
rule train:
    wildcards: study=s, cell=c, seed=1
    resources: gpu=1, mem_mb=8000
    reason: Missing output files: results/s/cells/c/seed-1/model.keras
checkpoint decide:
    wildcards: study=s, round=0
    reason: Params have changed since last execution
localrule all:
    reason: Input files updated by another job
"""
    jobs = parse_dry_run(output)
    assert [rule for rule, _ in jobs] == ["train", "decide", "all"]
    assert jobs[0][1] == {
        "study": "s",
        "cell": "c",
        "seed": "1",
        "gpu": "1",
        "mem_mb": "8000",
        "reason": "Missing output files: results/s/cells/c/seed-1/model.keras",
    }
    assert jobs[0][1]["reason"].startswith("Missing output files")
    assert jobs[0][1]["gpu"] == "1" and jobs[1][1]["round"] == "0"
    assert jobs[1][1]["reason"] == "Params have changed since last execution"


def test_the_dry_run_parser_takes_only_job_headers_and_their_fields():
    output = """
reason: a field before any job is nobody's
Job stats:
rule train with more words:
rule train:
    wildcards: study=s, cell=c, seed=2
    resources: tmpdir=/tmp/a=b, runtime=60
    threads: 2
    input: results/s/data/manifest.csv
checkpoint:
"""
    assert parse_dry_run(output) == [
        ("train", {"study": "s", "cell": "c", "seed": "2", "tmpdir": "/tmp/a=b",
                   "runtime": "60", "threads": "2"}),
    ]  # fmt: skip
