"""Benchmark: planning a 7-factor study of two-level factors as a full grid, as 2^(k-p)
fractions of resolution 3, 4 and 5, and as a Plackett-Burman screening design:
`snakemake -n` wall time and the train jobs it plans, plus what importing pyDOE (which
only fractional and screening designs do) costs on its own.

    .venv/bin/python bench/fractional_planning.py [--repeats 3]
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
from benchmarks_doc import write_section

from ablate.plan import parse_dry_run

REPO = Path(__file__).resolve().parents[1]

SEEDS = [1, 2]


def study_config(design: str, resolution: int | None) -> dict:
    """The default study with seven two-level factors, each patching another setting."""
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["study"] = "fractional"
    factors = {
        "augmentation": copy.deepcopy(config["factors"]["augmentation"]),
        "dropout": {"none": {}, "some": {"model": {"dropout": 0.3}}},
        "norm": {"plain": {}, "batchnorm": {"model": {"batch_norm": True}}},
        "batch": {"b32": {}, "b16": {"batch_size": 16}},
        "rate": {"base": {}, "double": {"optimizer": {"learning_rate": 0.002}}},
        "length": {"base": {}, "long": {"epochs": 30}},
        "smoothing": {"none": {}, "some": {"label_smoothing": 0.1}},
    }
    config.update(factors=factors, design=design, baseline={}, seeds=SEEDS)
    config.pop("resolution", None)
    if resolution is not None:
        config["resolution"] = resolution
    return config


def seconds(command: list[str], cwd: Path) -> tuple[float, subprocess.CompletedProcess]:
    started = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, check=True, capture_output=True, text=True)
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    snakemake = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
                 "--cores", "2", "-n"]  # fmt: skip
    cases = {
        "full": ("full", None),
        "fractional, resolution 3": ("fractional", 3),
        "fractional, resolution 4": ("fractional", 4),
        "fractional, resolution 5": ("fractional", 5),
        "screening (Plackett-Burman)": ("screening", None),
    }
    figures = {}
    with tempfile.TemporaryDirectory(prefix="ablate-bench-") as folder:
        for index, (label, (design, resolution)) in enumerate(cases.items()):
            workdir = Path(folder) / str(index)
            workdir.mkdir()
            (workdir / "config.yaml").write_text(yaml.safe_dump(study_config(design, resolution)))
            times, trains = [], 0
            for _ in range(args.repeats):
                elapsed, result = seconds(snakemake, workdir)
                times.append(elapsed)
                jobs = parse_dry_run(result.stdout + result.stderr)
                trains = sum(rule == "train" for rule, _ in jobs)
            figures[label] = (trains // len(SEEDS), trains, min(times), statistics.median(times))
            print(label, figures[label])
    imports = [
        seconds([sys.executable, "-c", "import pydoe"], REPO)[0] for _ in range(args.repeats)
    ]
    bare = [seconds([sys.executable, "-c", "pass"], REPO)[0] for _ in range(args.repeats)]
    pydoe_import = min(imports) - min(bare)
    load = os.getloadavg()[0]
    print("pyDOE import", pydoe_import)

    machine = f"{platform.machine()}, {os.cpu_count()} cores"
    rows = [
        f"| {label} | {cells} | {trains} | {best:.2f} | {median:.2f} |"
        for label, (cells, trains, best, median) in figures.items()
    ]
    write_section(
        "fractional_planning",
        [
            "## Planning a 7-factor fractional study (`bench/fractional_planning.py`)",
            "",
            "`snakemake -n` wall time (best and median of "
            f"{args.repeats} runs, each a fresh process, Python and Snakemake start-up "
            "included) of the default study with seven two-level factors and "
            f"{len(SEEDS)} seeds, planned as the full grid, as 2^(7-p) fractions and as a "
            f"Plackett-Burman design. Measured {date.today()} on {machine} (load average "
            f"{load:.1f} at the end: other work shared the machine, hence the best time).",
            "",
            "| design | cells | train jobs | best s | median s |",
            "|---|---:|---:|---:|---:|",
            *rows,
            "",
            f"Importing pyDOE (SciPy's stats and linalg with it), which only fractional and "
            f"screening designs do, takes {pydoe_import:.2f} s of that; every Snakefile "
            "parse, so every job on a cluster, pays it once. Building the designs themselves "
            "takes about a millisecond.",
        ],
    )


if __name__ == "__main__":
    main()
