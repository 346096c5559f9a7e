"""Benchmark: one default cell through the pipeline versus a plain Keras script.

Both sides train the default study's baseline cell (same split, model, epochs, batch size
and seed) as a fresh process, so each pays for starting Python and TensorFlow. The
pipeline side is the real thing: `snakemake` re-running that cell's train job. Runs
alternate to spread machine noise evenly; the medians and their ratio go into
docs/benchmarks.md.

    .venv/bin/python bench/train_overhead.py [--repeats 3]
"""

from __future__ import annotations

import argparse
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
from benchmarks_doc import BENCHMARKS, write_section  # noqa: E402

from ablate.design import cell_name  # noqa: E402


def seconds(value: float) -> str:
    return f"{value:.1f}"


def timed(command: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    config = yaml.safe_load((REPO / "config.yaml").read_text())
    baseline = config["baseline"]
    config.update(design="list", cells=[baseline], seeds=[1])
    cell = cell_name(baseline)
    base = config["base"]

    with tempfile.TemporaryDirectory(prefix="ablate-bench-") as folder:
        workdir = Path(folder)
        (workdir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        study = Path("results") / config["study"]  # targets relative to the working directory
        model = study / "cells" / cell / "seed-1" / "model.keras"
        snakemake = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile")]
        snakemake += ["--cores", "2", "--resources", "gpu=1", "--quiet=all"]
        # Prepare the split and its decoded arrays once (a study does that once for all its
        # cells); it is not part of either side's time.
        arrays = [str(study / "data" / "arrays" / f"{split}-images.npy") for split in
                  ("train", "validation")]  # fmt: skip
        subprocess.run([*snakemake, *arrays], cwd=workdir, check=True)

        pipeline_command = [*snakemake, "--forcerun=train", str(model)]
        plain_command = [
            sys.executable, str(REPO / "bench" / "plain_keras.py"),
            str(study / "data" / "split"), "plain.keras",
            "--epochs", str(base["epochs"]), "--batch-size", str(base["batch_size"]),
            "--image-size", str(config["dataset"]["image_size"][0]), "--seed", "1",
        ]  # fmt: skip
        pipeline, plain = [], []
        for repeat in range(args.repeats):
            pipeline.append(timed(pipeline_command, workdir))
            plain.append(timed(plain_command, workdir))
            print(f"repeat {repeat + 1}: pipeline {pipeline[-1]:.1f} s, plain {plain[-1]:.1f} s")

    ratio = statistics.median(pipeline) / statistics.median(plain)
    verdict = "meets" if ratio <= 1.10 else "misses"
    rows = [
        (
            "pipeline",
            "`snakemake --forcerun train` on that cell: parse, plan, train, outputs",
            pipeline,
        ),
        ("plain Keras", "`bench/plain_keras.py`: `image_dataset_from_directory` + `fit`", plain),
    ]
    table = "\n".join(
        f"| {side} | {what} | {statistics.median(times):.1f} | {', '.join(map(seconds, times))} |"
        for side, what, times in rows
    )
    write_section(
        "train_overhead",
        [
            "## Pipeline overhead of one training job (`bench/train_overhead.py`)",
            "",
            f"One cell of the default study (`{cell}`, seed 1: {base['epochs']} epochs, batch "
            f"{base['batch_size']}), trained as a fresh process each time; {args.repeats} "
            f"alternating repeats, median wall time. Measured {date.today()} on "
            f"{platform.machine()}, {len(os.sched_getaffinity(0))} cores, no GPU.",
            "",
            "| side | what runs | median s | all runs (s) |",
            "|---|---|---:|---|",
            table,
            "",
            f"**Ratio pipeline / plain: {ratio:.2f}** (target: at most 1.10; "
            f"this run {verdict} it). The difference is Snakemake's start-up and planning; "
            "the pipeline's train job reads the split from the arrays its study decoded once "
            "(prepared before timing, like the split itself), where the plain script decodes "
            "every image every epoch.",
        ],
    )
    print(f"ratio {ratio:.2f}; written to {BENCHMARKS.relative_to(REPO)}")


if __name__ == "__main__":
    main()
