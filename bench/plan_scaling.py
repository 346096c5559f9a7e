"""Benchmark: planning large grids. `snakemake -n` on a 1,000-cell study, and the
up-to-date check of a finished 100-cell study, each beside plain Snakemake on a trivial
workflow with the same number of jobs, in one run; and beside a same-shape Snakefile: no
ablate code, but ablate's rules with their inputs, outputs, log, benchmark, conda, script,
resources and params (each cell's settings), which is what Snakemake itself costs per job.

A "finished" study is made by `snakemake --touch` (every output marked done, nothing
trained): the up-to-date check reads the same files and metadata either way.

    .venv/bin/python bench/plan_scaling.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import copy
import json
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

from ablate.config import resolve_study  # noqa: E402

TRIVIAL = """
rule all:
    input: expand("out/{{i}}.txt", i=range({jobs}))

rule make:
    output: "out/{{i}}.txt"
    shell: "touch {{output}}"
"""

# ablate's rules as Snakemake sees them, without ablate: the same inputs, outputs, log,
# benchmark, conda, script, threads, resources and params per job (train's params: the
# cell's settings from cells.json); the helpers are plain look-ups. Keep in step with
# workflow/rules/*.smk.
SAME_SHAPE = """
import json

CELLS = json.load(open("cells.json"))
S = "results/{study}"
RUN = S + "/cells/{cell}/seed-{seed}"
DATA = S + "/data/"
IMAGES = {"image_size": [32, 32], "color_mode": "rgb"}


wildcard_constraints:
    study="grid",
    cell=r"[^/]+",
    seed=r"\\d+",
    split="train|validation|test",


def settings(wildcards):
    return CELLS[wildcards.cell]


def description(wildcards):
    return {"study": wildcards.study, "cell": wildcards.cell, "levels": {}}


def runtime(wildcards, attempt):
    return 120 * attempt


def arrays(split):
    return [DATA + f"arrays/{split}-images.npy", DATA + f"arrays/{split}-labels.npy"]


def runs(name):
    return expand(RUN + "/" + name, study="grid", cell=list(CELLS), seed=[1])


rule all:
    input:
        expand([S + "/summary.csv", S + "/tables/summary.html", S + "/study.yaml",
                S + "/figures/f0.png"], study="grid"),

rule download:
    output: directory(DATA + "raw")
    log: S + "/logs/download.log"
    benchmark: S + "/benchmarks/download.tsv"
    conda: "env.yaml"
    params: source="builtin:digits", options={"sha256": None}
    script: "job.py"

rule split:
    input: DATA + "raw"
    output:
        directory(DATA + "split"), DATA + "manifest.csv", DATA + "quarantine.csv",
        DATA + "inventory.csv", DATA + "conflicting_labels.csv", DATA + "near_duplicates.csv",
    log: S + "/logs/split.log"
    benchmark: S + "/benchmarks/split.tsv"
    conda: "env.yaml"
    params: split={"by": "fractions"}, labels={"from": "folders"}
    script: "job.py"

rule decode:
    input: DATA + "split", DATA + "manifest.csv"
    output: DATA + "arrays/{split}-images.npy", DATA + "arrays/{split}-labels.npy"
    log: S + "/logs/decode/{split}.log"
    benchmark: S + "/benchmarks/decode/{split}.tsv"
    conda: "env.yaml"
    threads: 2
    params: dataset=IMAGES
    script: "job.py"

rule train:
    input:
        train=arrays("train"), validation=arrays("validation"), manifest=DATA + "manifest.csv"
    output:
        RUN + "/model.keras", RUN + "/history.csv", RUN + "/params.yaml", RUN + "/train.json"
    log: S + "/logs/train/{cell}/seed-{seed}.log"
    benchmark: S + "/benchmarks/train/{cell}/seed-{seed}.tsv"
    conda: "env.yaml"
    threads: 2
    resources: gpu=1, mem_mb=8000, runtime=runtime
    params:
        settings=settings, dataset=IMAGES, description=description,
        state=S + "/state/{cell}/seed-{seed}",
    script: "job.py"

rule evaluate:
    input: RUN + "/model.keras", RUN + "/train.json", arrays("test"), DATA + "manifest.csv"
    output:
        RUN + "/test/metrics.json", RUN + "/test/per_class.csv",
        RUN + "/test/confusion_matrix.csv", RUN + "/test/predictions.csv",
    log: S + "/logs/evaluate/{cell}/seed-{seed}.log"
    benchmark: S + "/benchmarks/evaluate/{cell}/seed-{seed}.tsv"
    conda: "env.yaml"
    threads: 1
    params: dataset=IMAGES, batch_size=32
    script: "job.py"

rule aggregate:
    input:
        runs("train.json"), runs("test/metrics.json"), runs("history.csv"),
        runs("test/predictions.csv"), DATA + "manifest.csv", DATA + "near_duplicates.csv",
        DATA + "conflicting_labels.csv",
    output:
        S + "/summary.csv", S + "/warnings.csv", S + "/effects.csv", S + "/runs.csv",
        S + "/level_means.csv", S + "/history.csv",
    log: S + "/logs/aggregate.log"
    benchmark: S + "/benchmarks/aggregate.tsv"
    conda: "env.yaml"
    params: runs=[{"cell": cell, "seed": 1} for cell in CELLS]
    script: "job.py"

rule tables:
    input: S + "/summary.csv", S + "/warnings.csv", S + "/effects.csv", S + "/runs.csv"
    output: [S + f"/tables/{name}.html" for name in ("summary", "warnings", "effects", "runs")]
    log: S + "/logs/tables.log"
    conda: "env.yaml"
    script: "job.py"

rule describe:
    output: S + "/study.yaml", S + "/tables/study.html"
    log: S + "/logs/describe.log"
    conda: "env.yaml"
    params: cells=CELLS
    script: "job.py"

rule figures:
    input:
        S + "/runs.csv", S + "/summary.csv", S + "/effects.csv", S + "/level_means.csv",
        S + "/history.csv", runs("test/confusion_matrix.csv"),
    output: [S + f"/figures/f{number}.png" for number in range(9)]
    log: S + "/logs/figures.log"
    benchmark: S + "/benchmarks/figures.tsv"
    conda: "env.yaml"
    script: "job.py"
"""


def write_same_shape(folder: Path, config: dict) -> None:
    """The same-shape Snakefile beside its cells' settings, conda file, script and ablate's
    workflow profile (which Snakemake loads for ablate too)."""
    study = resolve_study(config)
    cells = {name: cell.settings.as_dict() for name, cell in study.cells.items()}
    (folder / "cells.json").write_text(json.dumps(cells))
    (folder / "Snakefile").write_text(SAME_SHAPE)
    (folder / "env.yaml").write_text((REPO / "envs" / "ablate.yaml").read_text())
    (folder / "job.py").write_text("")
    profile = folder / "profiles" / "default"
    profile.mkdir(parents=True)
    (profile / "config.yaml").write_text((REPO / "profiles/default/config.yaml").read_text())


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


TARGET = 1.2  # issue 17: ablate's plan at most this many times plain Snakemake's

# Where the time goes (cProfile of the 1,000-cell plan, and `python -X importtime`), for the
# text under the table; re-profile when the figures move.
FINDINGS = [
    "Where the time went (2026-12-02, 1,000-cell plan, before that day's changes: ablate "
    "6.23 s, same shape 5.60 s, plain 2.76 s, medians of 5): parsing (`snakemake -l`) took "
    "0.54 s more than plain, 0.40 s of it `resolve_study` (the schema's check with defaults "
    "of every cell, 60 %, and deep copies while merging levels, 30 %); ablate's imports add "
    "0.05 s (`-X importtime`: no TensorFlow, pandas, scipy or pyDOE at parse time). The "
    "rest is Snakemake's own cost per job for ablate's rule shape (cProfile): 15,040 "
    "input edges to resolve instead of 2,010 (5 inputs per train and evaluate job, and "
    "the aggregate's and figures' 5,000), each job's `script:` file opened and read while "
    "the DAG is built, each job's `conda:` file hashed, 8,000 outputs sorted for the "
    "directory-output check, and longer job descriptions printed. Taking the same-shape "
    "Snakefile apart (medians of 3; 6.03 s in that run): `shell:` for `script:` saves 0.5 s, "
    "no conda file 0.1 s, no log and benchmark 0.3 s, no params, resources and threads "
    "0.5 s; its inputs and outputs alone still take 4.66 s, 1.57 times plain.",
    "",
    "Changed: each settings key's distinct values are checked once per study "
    "(`ablate.config._check_by_key`, `resolve_study` 0.40 -> 0.04 s), levels are merged "
    "without copies, each cell's settings mapping is made once (not per job), and the data "
    "set's image settings and settings every cell shares (gpus, batch size) are plain "
    "params and resources rather than a function called per job. What is left of ablate's "
    "own cost (0.2 to 0.4 s in these runs) is mostly parsing: Snakemake's config validation, "
    "the schema, imports, the rule files. The 1.2 target cannot be met by ablate's code: "
    "the same-shape Snakefile, with no ablate code at all, is about 2 times plain Snakemake; "
    "only fewer "
    "declared files, logs or scripts per job would move it, and each of those is needed.",
]


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
            sides = {side: root / label.split()[0] / side for side in ("ablate", "same", "plain")}
            for workdir in sides.values():
                workdir.mkdir(parents=True)
            config = grid_config(levels)
            (sides["ablate"] / "config.yaml").write_text(yaml.safe_dump(config))
            jobs = count_jobs([*ablate, "-n"], sides["ablate"])
            write_same_shape(sides["same"], config)
            (sides["plain"] / "Snakefile").write_text(TRIVIAL.format(jobs=jobs))
            commands = {"ablate": ablate, "same": snakemake, "plain": snakemake}
            if count_jobs([*snakemake, "-n"], sides["same"]) != jobs:
                raise RuntimeError(f"same shape: not {jobs} jobs; keep SAME_SHAPE in step")
            if finished:
                for side, workdir in sides.items():
                    mark_finished(commands[side], workdir)
            runs = {side: [] for side in sides}
            for _ in range(args.repeats):  # alternate: machine noise hits all alike
                for side, workdir in sides.items():
                    runs[side].append(seconds([*commands[side], *quiet, "-n"], workdir))
            figures[label] = (jobs, {side: statistics.median(t) for side, t in runs.items()})
            print(label, figures[label])

    machine = f"{platform.machine()}, {os.cpu_count()} cores"
    rows = [
        f"| {label} | {jobs} | {t['ablate']:.2f} | {t['same']:.2f} | {t['plain']:.2f} | "
        f"{t['ablate'] / t['plain']:.2f} | {t['same'] / t['plain']:.2f} | "
        f"{t['ablate'] / t['same']:.2f} |"
        for label, (jobs, t) in figures.items()
    ]
    verdicts = [
        f"{label}: {'met' if t['ablate'] / t['plain'] <= TARGET else 'missed'} "
        f"({t['ablate'] / t['plain']:.2f}); ablate's own code "
        + (
            f"adds {t['ablate'] - t['same']:.2f} s to"
            if t["ablate"] - t["same"] >= 0.05
            else f"is within the noise of ({t['ablate'] - t['same']:+.2f} s)"
        )
        + f" the same-shape Snakefile, whose {t['same'] / t['plain']:.2f} is Snakemake's "
        "per-job cost for that shape alone."
        for label, (jobs, t) in figures.items()
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
            "Snakefile with the same number of jobs. Same shape: a Snakefile without ablate "
            "code but with ablate's rules as Snakemake sees them (per job the same inputs, "
            "outputs, log, benchmark, conda file, script, resources and params, train's "
            "being its cell's settings). "
            f"Measured {date.today()} on {machine}.",
            "",
            "| case | jobs | ablate s | same shape s | plain Snakemake s | ratio "
            "| same shape / plain | ablate / same shape |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
            *rows,
            "",
            f"Target (issue 17): ratio (ablate / plain) at most {TARGET}.",
            "",
            *[f"- {verdict}" for verdict in verdicts],
            "",
            *FINDINGS,
        ],
    )


if __name__ == "__main__":
    main()
