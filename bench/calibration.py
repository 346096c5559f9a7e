"""Benchmark: how often the verdict rule is wrong, and how often it finds a real difference,
per number of seeds, on the bank of real runs (bench/seed_bank.py) and on simulated runs;
and what the two-level bootstrap costs. Results go to docs/benchmarks.md.

A/A: pseudo-cells A and A' of n seeds each, drawn without overlap from the 20 seeds of
one configuration (identical settings, independent training randomness); every 'better' or
'worse' verdict is a false one. Power: n seeds of the level a few points worse against n
seeds of the first configuration; 'worse' is found.

    .venv/bin/python bench/calibration.py [--repetitions 2000]
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow" / "scripts"))
from benchmarks_doc import write_section  # noqa: E402

from ablate.results.verdicts import WORSE, cell_interval, compare, macro_f1_interval  # noqa: E402

SEED_COUNTS = (1, 2, 3, 5, 10)
MIN_EFFECT = 0.005


def load_bank() -> dict[str, np.ndarray]:
    table = pd.read_csv(REPO / "bench" / "data" / "seed_bank.csv.gz", dtype=str)
    table["right"] = (table["true"] == table["predicted"]).astype(float)
    return {
        level: rows.pivot(index="seed", columns="image", values="right").to_numpy()
        for level, rows in table.groupby("level")
    }


def simulated(rng: np.random.Generator, seeds: int, shift: float = 0.0) -> np.ndarray:
    """Runs on 270 images (as the bank's test split) with per-image flips and whole-model
    shifts of about the bank's size."""
    difficulty = np.random.default_rng(0).normal(2.5, 2.0, size=270)
    whole = rng.normal(0, 0.3, size=(seeds, 1))
    probability = 1 / (1 + np.exp(-(difficulty + shift + whole)))
    return (rng.random((seeds, 270)) < probability).astype(float)


def rates(draw_same, draws_worse, repetitions: int) -> list[list[float]]:
    """Per seed count: the false-verdict rate of A/A draws, then the share of 'worse'
    verdicts for each of the worse draws."""
    rows = []
    for seeds in SEED_COUNTS:
        false = sum(compare(*draw_same(seeds), MIN_EFFECT).verdict in ("better", "worse")
                    for _ in range(repetitions))  # fmt: skip
        found = [
            sum(compare(*draw(seeds), MIN_EFFECT).verdict == WORSE for _ in range(repetitions))
            / repetitions
            for draw in draws_worse
        ]
        rows.append([false / repetitions, *found])
    return rows


def bootstrap_seconds(images: int, seeds: int, classes: int = 10) -> float:
    """Wall time of one cell's accuracy and macro F1 intervals."""
    rng = np.random.default_rng(0)
    true = np.tile(rng.integers(0, classes, size=images), (seeds, 1))
    predicted = np.where(rng.random((seeds, images)) < 0.9, true, 0)
    started = time.perf_counter()
    cell_interval((predicted == true).astype(float))
    macro_f1_interval(true, predicted, classes)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repetitions", type=int, default=2000)
    args = parser.parse_args()
    bank = load_bank()
    rng = np.random.default_rng(2024)

    def bank_same(seeds: int) -> tuple[np.ndarray, np.ndarray]:
        order = rng.permutation(len(bank["a"]))
        return bank["a"][order[:seeds]], bank["a"][order[seeds : 2 * seeds]]

    def bank_worse(level: str):
        def draw(seeds: int) -> tuple[np.ndarray, np.ndarray]:
            pick = rng.choice(len(bank[level]), size=seeds, replace=False)
            other = rng.choice(len(bank["a"]), size=seeds, replace=False)
            return bank[level][pick], bank["a"][other]

        return draw

    real = rates(bank_same, [bank_worse("b"), bank_worse("c")], args.repetitions)
    fake = rates(
        lambda n: (simulated(rng, n), simulated(rng, n)),
        [lambda n: (simulated(rng, n, -0.8), simulated(rng, n))],
        args.repetitions,
    )
    accuracy = {level: runs.mean(axis=1) for level, runs in bank.items()}
    lines = [
        "## Verdict calibration and power (`bench/calibration.py`)",
        "",
        f"Measured {date.today()} on {platform.processor() or platform.machine()}, "
        f"{args.repetitions} draws per seed count, verdict rule of ablate.results.verdicts "
        f"with min_effect {MIN_EFFECT}. Real runs: bench/data/seed_bank.csv.gz "
        f"(bench/seed_bank.py), 20 seeds per level on 270 test images: level a "
        f"{accuracy['a'].mean():.3f} +/- {accuracy['a'].std(ddof=1):.3f}, level b "
        f"{accuracy['b'].mean():.3f} +/- {accuracy['b'].std(ddof=1):.3f}, level c (a hopeless "
        f"learning rate) {accuracy['c'].mean():.3f} +/- {accuracy['c'].std(ddof=1):.3f} (mean "
        "+/- SD over seeds). False verdicts: A/A comparisons (two pseudo-cells of level a "
        "with independent seeds) that end 'better' or 'worse'; target at most 5 % at every "
        "seed count. Power: level b (or c) against level a ends 'worse'. Simulated: 270 "
        "images with per-image flips and whole-model shifts; the worse level is about 8 "
        "points down.",
        "",
        "| seeds per cell | false verdicts, real runs | power, real runs, b vs a "
        "| power, real runs, c vs a | false verdicts, simulated | power, simulated |",
        "|---|---|---|---|---|---|",
    ]
    for seeds, found, simulated_found in zip(SEED_COUNTS, real, fake, strict=True):
        lines.append(f"| {seeds} | " + " | ".join(f"{rate:.1%}" for rate in
                                                  [*found, *simulated_found]) + " |")  # fmt: skip
    lines += [
        "",
        "One seed is always 'undecided' (training randomness cannot be measured from one "
        "run), hence 0 % both ways.",
        "",
        "Cost of one cell's two-level bootstrap (accuracy and macro F1, 2,000 replicates):",
        "",
        "| test images | seeds | seconds |",
        "|---|---|---|",
    ]
    for images, seeds in ((270, 2), (270, 10), (10_000, 2), (10_000, 10)):
        lines.append(f"| {images:,} | {seeds} | {bootstrap_seconds(images, seeds):.2f} |")
    write_section("calibration", lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
