"""Benchmark: the default study (config.yaml) end to end at several split seeds: its
verdicts at each, whether they agree, and its wall time. Results go to docs/benchmarks.md.

Each run is `snakemake --cores 4 --resources gpu=1` in a fresh folder with config.yaml as
it is, only `dataset.split.seed` changed (2024 is the default's own).

    .venv/bin/python bench/default_study.py [--split-seeds 2024,1,2,3,4] [--keep-runs]

With --keep-runs, every test image's true and predicted class in every run at the first
split goes to bench/data/default_study_runs.csv.gz (tests/test_verdicts.py decides its
comparisons from them: real runs whose every heavy-augmentation run is far below every
baseline run).
"""

from __future__ import annotations

import argparse
import platform
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
RUNS = REPO / "bench" / "data" / "default_study_runs.csv.gz"
sys.path.insert(0, str(REPO / "bench"))
from benchmarks_doc import write_section  # noqa: E402


def run(split_seed: int, folder: Path) -> tuple[float, pd.DataFrame, str]:
    """Wall seconds, summary.csv and the verdict rule of the default study at one split."""
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["dataset"]["split"]["seed"] = split_seed
    (folder / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
         "--directory", str(folder), "--configfile", str(folder / "config.yaml"),
         "--cores", "4", "--resources", "gpu=1"],
        check=True, capture_output=True,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    summary = pd.read_csv(folder / "results" / config["study"] / "summary.csv")
    compared = summary[~summary["baseline"]]
    return seconds, compared, str(compared["vs_baseline_rule"].iloc[0])


def keep_runs(folder: Path, study: str) -> None:
    """cell, seed, image, true, predicted of every run's test images, to RUNS."""
    rows = []
    for path in sorted(
        (folder / "results" / study / "cells").glob("*/seed-*/test/predictions.csv")
    ):
        table = pd.read_csv(path, dtype=str)
        cell, seed = path.parts[-4], path.parts[-3].removeprefix("seed-")
        rows.append(
            pd.DataFrame(
                {
                    "cell": cell,
                    "seed": seed,
                    "image": table["image"],
                    "true": table["true"],
                    "predicted": table["predicted"],
                }
            )
        )
    pd.concat(rows).to_csv(RUNS, index=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split-seeds", default="2024,1,2,3,4")
    parser.add_argument("--keep-runs", action="store_true")
    args = parser.parse_args()
    seeds = [int(seed) for seed in args.split_seeds.split(",")]
    verdicts, times, rules = {}, {}, {}
    differences = {}
    with tempfile.TemporaryDirectory() as scratch:
        for seed in seeds:
            folder = Path(scratch) / f"split-{seed}"
            folder.mkdir()
            times[seed], compared, rules[seed] = run(seed, folder)
            verdicts[seed] = dict(zip(compared["cell"], compared["vs_baseline_verdict"],
                                      strict=True))  # fmt: skip
            differences[seed] = dict(zip(compared["cell"], compared["vs_baseline_difference"],
                                         strict=True))  # fmt: skip
            print(seed, f"{times[seed]:.0f} s", verdicts[seed], flush=True)
            if args.keep_runs and seed == seeds[0]:
                keep_runs(folder, yaml.safe_load((folder / "config.yaml").read_text())["study"])
    cells = list(verdicts[seeds[0]])
    same = all(verdicts[seed] == verdicts[seeds[0]] for seed in seeds)
    lines = [
        "## The default study at several splits (`bench/default_study.py`)",
        "",
        f"Measured {date.today()} on {platform.processor() or platform.machine()}, 2 cores, "
        "no GPU: config.yaml as committed, `snakemake --cores 4 --resources gpu=1` in a fresh "
        "folder, at each split seed (2024 is the default's). Each cell's verdict against the "
        "baseline and its difference in test accuracy:",
        "",
        "| cell | " + " | ".join(f"split {seed}" for seed in seeds) + " |",
        "|---|" + "---|" * len(seeds),
    ]
    for cell in cells:
        found = [f"{verdicts[s][cell]} ({differences[s][cell]:+.3f})" for s in seeds]
        lines.append(f"| {cell} | " + " | ".join(found) + " |")
    lines += [
        "| wall time | " + " | ".join(f"{times[s]:.0f} s" for s in seeds) + " |",
        "",
        f"**The same verdicts at {len(seeds)} of {len(seeds)} splits: {'yes' if same else 'no'}**"
        f" (target: yes, within 300 s each). Rule at split {seeds[0]}: {rules[seeds[0]]}.",
    ]
    write_section("default_study", lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
