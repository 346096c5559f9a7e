"""Benchmark: how often the verdict rule is wrong, and how often it finds a real difference,
per number of seeds, on the bank of real runs (bench/seed_bank.py) and on simulated runs.
Results go to docs/benchmarks.md.

Cells are drawn as the pipeline runs them: every cell of a study at the same seeds, so a
seed's runs pair up. A/A: pseudo-cells of level a at seeds drawn without overlap (identical
settings, independent training randomness), compared as if paired; every 'better' or
'worse' is a false verdict. Power: level b (or c, d) at the same seeds as level a. A study
is a family: its comparisons with the baseline pool their seed variance and share the 5 %
(checks.multiplicity: holm, the default), as ablate.results.statistics.family decides them.

    .venv/bin/python bench/calibration.py [--repetitions 1000]
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path

import numpy as np
from scipy.special import expit

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow" / "scripts"))
from benchmarks_doc import write_section  # noqa: E402
from seed_bank import load_predictions  # noqa: E402

from ablate.results.statistics import HOLM, NO_ADJUSTMENT, family  # noqa: E402
from ablate.results.verdicts import BETTER, WORSE  # noqa: E402

SEED_COUNTS = (2, 3, 5, 10)
MIN_EFFECT = 0.005
DECIDED = (BETTER, WORSE)
IMAGES = 270  # as the bank's test split
Study = list[np.ndarray]  # seeds x images outcomes per cell, the baseline first
SHIFT = -0.25  # the simulated worse cell's shift (logit scale)
SHARED = 0.9  # the share of images whose chance one seed's runs share
# Levels that, like b, change only a's learning rate or epochs: at one seed they start from
# a's weights and data order, so a, b and these are a study of six like cells.
LIKE = ("e", "f", "g", "h")


def load_bank() -> dict[str, np.ndarray]:
    """Per level: seeds x images (1 right, 0 wrong), rows in seed order."""
    predicted, true = load_predictions()
    return {level: (runs == true).astype(float) for level, runs in predicted.items()}


DIFFICULTY = np.random.default_rng(0).normal(2.5, 2.0, size=IMAGES)


def simulated(rng: np.random.Generator, seeds: int, shift: float = 0.0) -> np.ndarray:
    """Runs on 270 images (as the bank's test split) with per-image flips and whole-model
    shifts of about the bank's size; independent of any other cell's (no shared seed)."""
    whole = rng.normal(0, 0.3, size=(seeds, 1))
    probability = 1 / (1 + np.exp(-(DIFFICULTY + shift + whole)))
    return (rng.random((seeds, IMAGES)) < probability).astype(float)


def simulated_study(rng: np.random.Generator, seeds: int, shifts: Sequence[float],
                    spreads: Sequence[float] | None = None) -> Study:  # fmt: skip
    """One study's cells at the same seeds: a seed's runs share a whole-model shift and,
    image by image, most of their chance (the same uniform draw with probability SHARED:
    one seed's runs agree on most images, as the bank's do), each cell adds its own shift
    (``spreads`` times the usual) and its ``shifts``. Sized as the bank's levels a and b:
    per-seed accuracy SD about 2 points, per-seed difference about 1.4."""
    shared = rng.normal(0, 0.12, size=(seeds, 1))
    common = rng.random((seeds, IMAGES))
    cells = []
    for shift, spread in zip(shifts, spreads or [1.0] * len(shifts), strict=True):
        own = rng.normal(0, 0.04 * spread, size=(seeds, 1))
        probability = expit(DIFFICULTY + shift + shared + own)
        draw = np.where(rng.random((seeds, IMAGES)) < SHARED, common, rng.random((seeds, IMAGES)))
        cells.append((draw < probability).astype(float))
    return cells


def verdicts(study: Study, multiplicity: str = HOLM) -> list[str]:
    """The verdicts of every cell against the first, as the aggregate gives them."""
    pairs = [(cell, study[0]) for cell in study[1:]]
    block = np.array([cell.mean(axis=1) for cell in study])
    found = family(pairs, MIN_EFFECT, multiplicity, block=block,
                   rows=range(1, len(study)), keep=0)[0]  # fmt: skip
    return [r.verdict for r in found]


def tally(draw: Callable[[], Study], repetitions: int, multiplicity: str = HOLM) -> np.ndarray:
    """repetitions x comparisons: the verdicts of ``repetitions`` drawn studies."""
    return np.array([verdicts(draw(), multiplicity) for _ in range(repetitions)])


def rate(found: np.ndarray, wanted: Sequence[str], column: int | None = None) -> float:
    """The share of comparisons (of one ``column``) with a verdict in ``wanted``."""
    hits = np.isin(found if column is None else found[:, column], wanted)
    return float(hits.mean())


def any_rate(found: np.ndarray) -> float:
    """The share of studies with at least one 'better' or 'worse' (family-wise)."""
    return float(np.isin(found, DECIDED).any(axis=1).mean())


def percent(value: float) -> str:
    return f"{value:.1%}"


def real_row(bank: dict[str, np.ndarray], rng: np.random.Generator, seeds: int,
             repetitions: int) -> dict:  # fmt: skip
    """The bank's A/A and power figures at ``seeds`` per cell (see the section's text)."""
    a = bank["a"]
    others = [level for level in ("b", "c", "d") if level in bank]
    paired = min(len(bank[level]) for level in ["a", *others])  # seeds every level has

    def aa(cells: int) -> Callable[[], Study]:
        def draw() -> Study:
            order = rng.permutation(len(a))
            return [a[order[i * seeds : (i + 1) * seeds]] for i in range(cells)]

        return draw

    def levels() -> Study:
        pick = rng.choice(paired, size=seeds, replace=False)
        return [a[pick], *(bank[level][pick] for level in others)]

    def alone(index: int) -> Callable[[], Study]:
        def draw() -> Study:
            drawn = levels()
            return [drawn[0], drawn[index + 1]]

        return draw

    row = {"seeds": seeds, "aa2": rate(tally(aa(2), repetitions), DECIDED)}
    if 6 * seeds <= len(a):
        six = tally(aa(6), repetitions)
        row |= {"aa6": rate(six, DECIDED), "aa6_any": any_rate(six),
                "aa6_any_none": any_rate(tally(aa(6), repetitions, NO_ADJUSTMENT))}  # fmt: skip
    study = tally(levels, repetitions)
    for index, level in enumerate(others):
        row[f"{level}_alone"] = rate(tally(alone(index), repetitions), [WORSE])
        row[f"{level}_study"] = rate(study, [WORSE], index)
    if all(level in bank for level in LIKE):
        shared = min(len(bank[level]) for level in ("a", "b", *LIKE))

        def like() -> Study:
            pick = rng.choice(shared, size=seeds, replace=False)
            return [a[pick], *(bank[level][pick] for level in ("b", *LIKE))]

        found = tally(like, repetitions)
        row["b_like_worse"] = rate(found, [WORSE], 0)
        for index, level in enumerate(LIKE, start=1):
            row[f"{level}_like"] = rate(found, DECIDED, index)
    return row


def simulated_row(rng: np.random.Generator, seeds: int, repetitions: int) -> dict:
    """Simulated studies at ``seeds`` per cell: identical cells (20; 6 with equal and with
    unequal spreads) and the power of a 2-point shift among five identical cells."""

    def study(shifts: Sequence[float], spreads: Sequence[float] | None = None):
        return lambda: simulated_study(rng, seeds, shifts, spreads)

    twenty = study([0.0] * 21)
    row = {"seeds": seeds, "aa20_any": any_rate(tally(twenty, repetitions)),
           "aa20_any_none": any_rate(tally(twenty, repetitions, NO_ADJUSTMENT))}  # fmt: skip
    for name, spreads in (("equal", [1.0] * 6), ("cell", [1, 1, 1, 1, 1, 3]),
                          ("base", [3, 1, 1, 1, 1, 1])):  # fmt: skip
        found = tally(study([0.0] * 6, spreads), repetitions)
        row[name], row[f"{name}_any"] = rate(found, DECIDED), any_rate(found)
    row["power"] = rate(tally(study([0, SHIFT, 0, 0, 0, 0]), repetitions), [WORSE], 0)
    return row


def like_table(bank: dict[str, np.ndarray], real: list[dict]) -> list[str]:
    """The study of six like cells: b's power and how often each other level is decided."""
    shared = min(len(bank[level]) for level in ("a", "b", *LIKE))
    a = bank["a"][:shared].mean(axis=1)
    differences = {level: bank[level][:shared].mean(axis=1) - a for level in ("b", *LIKE)}
    described = ", ".join(
        f"{level} {100 * d.mean():+.1f} points (paired SD {100 * d.std(ddof=1):.1f})"
        for level, d in differences.items()
    )
    header = ["seeds per cell", "b vs a: worse", *(f"{level}: decided" for level in LIKE)]
    lines = [
        "",
        "Real runs, a study of six like cells: a (the baseline), b and levels e to h, which "
        "change only the learning rate (0.0012, 0.0008, 0.0005) or the epochs (three), so "
        "that at one seed every cell starts from the same weights and data order, as in "
        f"most ablations. Their differences from a over the {shared} seeds all have: "
        f"{described}. The share of studies where b is 'worse', and where each other level "
        "gets a verdict ('better' or 'worse'), under the default rule (Holm over the five "
        "comparisons, each seed variance moderated toward the study's pool).",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    for row in real:
        cells = [str(row["seeds"]), percent(row["b_like_worse"])]
        cells += [percent(row[f"{level}_like"]) for level in LIKE]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repetitions", type=int, default=1000)
    args = parser.parse_args()
    started = time.perf_counter()
    bank = load_bank()
    rng = np.random.default_rng(2024)
    real = [real_row(bank, rng, seeds, args.repetitions) for seeds in SEED_COUNTS]
    fake = [simulated_row(rng, seeds, args.repetitions) for seeds in SEED_COUNTS]
    accuracy = {level: runs.mean(axis=1) for level, runs in bank.items()}
    others = [level for level in ("b", "c", "d") if level in bank]
    described = ", ".join(
        f"level {level} {accuracy[level].mean():.3f} +/- {accuracy[level].std(ddof=1):.3f} "
        f"({len(bank[level])} seeds)"
        for level in bank
    )
    # a and b at the seeds both have, row k being seed k + 1 in each
    a, b = (accuracy[level][: min(len(accuracy["a"]), len(accuracy["b"]))] for level in "ab")
    r = np.corrcoef(a, b)[0, 1]
    ratio = (np.var(a, ddof=1) + np.var(b, ddof=1)) / np.var(a - b, ddof=1)
    lines = [
        "## Verdict calibration and power (`bench/calibration.py`)",
        "",
        f"Measured {date.today()} on {platform.processor() or platform.machine()}, "
        f"{args.repetitions} drawn studies per figure ({time.perf_counter() - started:.0f} s "
        f"in all before the cost table), min_effect {MIN_EFFECT}, the default rule "
        "(checks.multiplicity: holm; each comparison's seed variance moderated toward the "
        "study's pooled one: ablate.results.statistics.family). Real runs: "
        f"bench/data/seed_bank.csv.gz (bench/seed_bank.py) on 270 test images: {described} "
        "(mean +/- SD over seeds; b learns at 0.7 of a's rate, c at a hopeless one, d trains "
        "one epoch instead of four; e to h below). At the same seed, a and b correlate "
        f"r = {r:.2f}: the variance of their per-seed difference is {ratio:.1f} times "
        "smaller than the sum of their variances, which is what pairing by seed gains.",
        "",
        "Real runs. A/A: pseudo-cells of level a at seeds drawn without overlap; '2 cells' "
        "compares two, '6 cells' a study of six (five comparisons with the first): the share "
        "of comparisons with a false verdict, and of studies with any (family-wise; under "
        "`multiplicity: none` beside it). Power: the share 'worse' of level b (c, d) at the "
        "same seeds as a, alone ('2 cells') and in the study of levels a to d "
        f"(a the baseline; {', '.join(others)} compared with it, one family). Target: false "
        "verdicts at most 5 %, per comparison and family-wise.",
        "",
    ]
    header = ["seeds per cell", "A/A 2 cells", "A/A 6 cells", "A/A 6 cells, any",
              "A/A 6 cells, any (none)"]  # fmt: skip
    for level in others:
        header += [f"{level} vs a, 2 cells", f"{level} vs a, in the study"]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in real:
        cells = [str(row["seeds"]), percent(row["aa2"])]
        cells += [percent(row[k]) if k in row else "(too few seeds)"
                  for k in ("aa6", "aa6_any", "aa6_any_none")]  # fmt: skip
        for level in others:
            cells += [percent(row[f"{level}_alone"]), percent(row[f"{level}_study"])]
        lines.append("| " + " | ".join(cells) + " |")
    if "b_like_worse" in real[0]:
        lines += like_table(bank, real)
    lines += [
        "",
        "Simulated (270 images, per-image flips, a whole-model shift per seed shared by the "
        "study's cells and one per cell): studies of identical cells, 20 of them (any false "
        "verdict: family-wise) and 6 with equal spreads, with one cell whose own spread is "
        "3 times the others', and with such a baseline; the share of comparisons with a "
        "false verdict and of studies with any. Power: a cell "
        f"{100 * (expit(DIFFICULTY) - expit(DIFFICULTY + SHIFT)).mean():.1f} points worse "
        "(before the seeds' shifts) among five identical ones, in a 6-cell study.",
        "",
        "| seeds per cell | 20 identical, any | 20 identical, any (none) | 6 equal spreads | "
        "6, any | one 3x spread cell | its study, any | 3x spread baseline | its study, any "
        "| power, the worse cell |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in fake:
        keys = ["aa20_any", "aa20_any_none", "equal", "equal_any", "cell", "cell_any", "base",
                "base_any", "power"]  # fmt: skip
        lines.append(f"| {row['seeds']} | " + " | ".join(percent(row[k]) for k in keys) + " |")
    lines += [
        "",
        "One seed is always 'undecided' (training randomness cannot be measured from one "
        "run). A cell's own interval, and its cost: bench/intervals.py.",
    ]
    write_section("calibration", lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
