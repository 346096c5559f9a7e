"""Benchmark: planning large grids. `snakemake -n` on a 1,000-cell study, and the
up-to-date check of a finished 100-cell study, each beside plain Snakemake on a trivial
workflow with the same number of jobs, in one run.

A "finished" study is made by `snakemake --touch` (every output marked done, nothing
trained): the up-to-date check reads the same files and metadata either way.

    .venv/bin/python bench/plan_scaling.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import copy
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow" / "scripts"))
from benchmarks_doc import write_section  # noqa: E402

TRIVIAL = """
rule all:
    input: expand("out/{{i}}.txt", i=range({jobs}))

rule make:
    output: "out/{{i}}.txt"
    shell: "touch {{output}}"
"""


def grid_config(levels: list[int]) -> dict:
    """The default study with a full grid of len(levels) factors of that many levels."""
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["study"] = "grid"
    patches = [
        lambda i: {"optimizer": {"learning_rate": 0.0005 * (i + 1)}},
        lambda i: {"model": {"dropout": round(0.05 * i, 2)}},
        lambda i: {"epochs": i + 1},
    ]
    names = ["lr", "dropout", "epochs"]
    config["factors"] = {
        names[f]: {f"l{i}": copy.deepcopy(patches[f](i)) for i in range(count)}
        for f, count in enumerate(levels)
    }
    config["baseline"] = {}
    config["seeds"] = [1]
    return config


def seconds(command: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - started


def count_jobs(command: list[str], cwd: Path) -> int:
    """Jobs in a dry run, from snakemake's job-stats table (0 for 'Nothing to be done')."""
    out = subprocess.run(command, cwd=cwd, check=True, capture_output=True, text=True)
    for line in (out.stdout + out.stderr).splitlines():
        if line.startswith("total"):
            return int(line.split()[1])
    return 0


def mark_finished(command: list[str], workdir: Path) -> None:
    """Create every output of the workflow, then let `--touch` give them their mtimes in
    dependency order: a finished run, without training anything."""
    summary = subprocess.run(
        [*command, "--summary"], cwd=workdir, check=True, capture_output=True, text=True
    ).stdout
    for line in summary.splitlines()[1:]:
        path = workdir / line.split("\t")[0]
        if path.name in ("raw", "split") and path.parent.name == "data":  # directory outputs
            path.mkdir(parents=True, exist_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
    subprocess.run([*command, "--touch", "--quiet", "all"], cwd=workdir, check=True,
                   capture_output=True)  # fmt: skip
    left = count_jobs([*command, "-n"], workdir)
    if left:
        raise RuntimeError(f"{workdir}: {left} jobs still to run after marking it finished")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    snakemake = [sys.executable, "-m", "snakemake", "--cores", "2"]
    ablate = [*snakemake, "--snakefile", str(REPO / "Snakefile")]
    quiet = ["--quiet", "all"]
    figures = {}
    with tempfile.TemporaryDirectory(prefix="ablate-bench-") as folder:
        root = Path(folder)
        cases = {
            "plan 1,000 cells": ([10, 10, 10], False),
            "up-to-date 100 cells": ([10, 10], True),
        }
        for label, (levels, finished) in cases.items():
            study, trivial = root / label.split()[0] / "study", root / label.split()[0] / "plain"
            study.mkdir(parents=True)
            trivial.mkdir(parents=True)
            (study / "config.yaml").write_text(yaml.safe_dump(grid_config(levels)))
            jobs = count_jobs([*ablate, "-n"], study)
            (trivial / "Snakefile").write_text(TRIVIAL.format(jobs=jobs))
            if finished:
                for workdir, command in ((study, ablate), (trivial, snakemake)):
                    mark_finished(command, workdir)
            runs = {"ablate": [], "plain": []}
            for _ in range(args.repeats):  # alternate: machine noise hits both alike
                runs["ablate"].append(seconds([*ablate, *quiet, "-n"], study))
                runs["plain"].append(seconds([*snakemake, *quiet, "-n"], trivial))
            figures[label] = (jobs, {side: statistics.median(t) for side, t in runs.items()})
            print(label, figures[label])

    machine = f"{platform.machine()}, {os.cpu_count()} cores"
    rows = [
        f"| {label} | {jobs} | {times['ablate']:.2f} | {times['plain']:.2f} | "
        f"{times['ablate'] / times['plain']:.2f} |"
        for label, (jobs, times) in figures.items()
    ]
    write_section(
        "plan_scaling",
        [
            "## Planning large grids (`bench/plan_scaling.py`)",
            "",
            "`snakemake -n` wall time, median of "
            f"{args.repeats} alternating runs, each a fresh process (Python and Snakemake "
            "start-up included). ablate: a full grid of the default study's model with 3 "
            "factors of 10 levels (1,000 cells, one seed), and a finished 2-factor grid "
            "(100 cells) whose outputs are all up to date. Plain: a trivial two-rule "
            "Snakefile with the same number of jobs. "
            f"Measured {date.today()} on {machine}.",
            "",
            "| case | jobs | ablate s | plain Snakemake s | ratio |",
            "|---|---:|---:|---:|---:|",
            *rows,
            "",
            "Target: ratio at most 2.",
        ],
    )


if __name__ == "__main__":
    main()
