"""Benchmark: a cell's interval over seeds and test images (ablate.results.intervals) on the
seed bank's level a as seeds are added, its coverage of a simulated population's accuracy
(new seeds and new images each draw), and its cost. Results go to docs/benchmarks.md.

    .venv/bin/python bench/intervals.py [--repetitions 2000]
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np
from scipy.special import expit
from statsmodels.stats.proportion import proportion_confint

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow" / "scripts"))
from benchmarks_doc import write_section  # noqa: E402
from seed_bank import load_predictions  # noqa: E402

from ablate.results.intervals import cell_interval, macro_f1_interval  # noqa: E402

BANK_SEEDS = (1, 2, 3, 5, 10, 20, 60)
SIMULATED_SEEDS = (2, 3, 5, 10, 20)
SEED_SPREADS = (0.15, 0.3, 0.6)  # logit scale: about 2, 4 and 8 points of accuracy
IMAGES = 270


def crossed_table(rng: np.random.Generator, seeds: int, seed_sd: float) -> np.ndarray:
    """New images (difficulty ~ N(2, 1.5) on the logit scale) and new seeds each draw."""
    difficulty = rng.normal(2.0, 1.5, size=IMAGES)
    shift = rng.normal(0.0, seed_sd, size=(seeds, 1))
    return (rng.random((seeds, IMAGES)) < expit(difficulty + shift)).astype(float)


def population_accuracy(seed_sd: float) -> float:
    rng = np.random.default_rng(0)
    difficulty = rng.normal(2.0, 1.5, size=200_000)
    return float(np.mean([expit(difficulty + u).mean() for u in rng.normal(0, seed_sd, 400)]))


def coverage(seeds: int, seed_sd: float, repetitions: int) -> tuple[float, float]:
    rng = np.random.default_rng(seeds * 1000 + round(seed_sd * 100))
    truth = population_accuracy(seed_sd)
    found = [cell_interval(crossed_table(rng, seeds, seed_sd)) for _ in range(repetitions)]
    covered = np.mean([interval.low <= truth <= interval.high for interval in found])
    return float(covered), float(np.mean([interval.high - interval.low for interval in found]))


def cost(images: int, seeds: int, classes: int = 10) -> float:
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
    started = time.perf_counter()
    predicted, true = load_predictions()
    level_a = (predicted["a"] == true).astype(float)
    accuracy = float(level_a.mean())
    wilson = proportion_confint(round(accuracy * IMAGES), IMAGES, 0.05, method="wilson")
    lines = [
        "## A cell's interval over seeds and test images (`bench/intervals.py`)",
        "",
        f"Measured {date.today():%Y-%m-%d} on {platform.machine()}: the interval of "
        "ablate.results.intervals (crossed seeds x images variance components, Wilson's form "
        "at the effective number of images, t quantile at Satterthwaite's df). Level a of "
        "the seed bank (270 test images), its first n seeds; for comparison the test set's "
        f"Wilson interval at a's mean, the floor of the previous rule: width "
        f"{wilson[1] - wilson[0]:.3f}.",
        "",
        "| seeds | mean | interval | width |",
        "|---|---|---|---|",
    ]
    for seeds in BANK_SEEDS:
        if seeds > level_a.shape[0]:
            continue
        found = cell_interval(level_a[:seeds])
        lines.append(f"| {seeds} | {found.estimate:.3f} | [{found.low:.3f}, {found.high:.3f}] "
                     f"| {found.high - found.low:.3f} |")  # fmt: skip
    lines += [
        "",
        f"Coverage of the population's accuracy, {args.repetitions} draws per figure: each "
        "draw a new test set of 270 images (difficulty N(2, 1.5) on the logit scale) and "
        "new seeds (a whole-model shift N(0, s) per seed); the share of intervals holding "
        "the population's mean accuracy, and their mean width.",
        "",
        "| seeds | " + " | ".join(f"s = {s}: covered | width" for s in SEED_SPREADS) + " |",
        "|---|" + "---|---|" * len(SEED_SPREADS),
    ]
    for seeds in SIMULATED_SEEDS:
        cells = []
        for spread in SEED_SPREADS:
            covered, width = coverage(seeds, spread, args.repetitions)
            cells += [f"{covered:.1%}", f"{width:.3f}"]
        lines.append(f"| {seeds} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Cost of one cell's accuracy and macro F1 intervals:",
        "",
        "| test images | seeds | seconds |",
        "|---|---|---|",
    ]
    for images, seeds in ((270, 2), (270, 10), (10_000, 2), (10_000, 10)):
        lines.append(f"| {images:,} | {seeds} | {cost(images, seeds):.3f} |")
    lines += ["", f"{time.perf_counter() - started:.0f} s in all."]
    write_section("intervals", lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
