"""Benchmark: one seed per cell of a two-level design, judged by Lenth's pseudo standard
error (ablate.results.lenth) through the aggregate's own effects code, on the bank of real
runs (bench/seed_bank.py). Results go to docs/benchmarks.md.

A 2^4 full design (16 cells, one run each; 4 main effects and 6 interactions reported) and
a 2^(6-2) fraction (16 cells, 6 main effects and the 15 interactions clear of them, in 7
alias chains). A/A: every cell a run of level a, each at its own seed (identical settings,
independent training randomness); every 'better' or 'worse' is false. Power: the cells at
f0's second level are runs of level b (c, d) instead, so f0's main effect is b - a; every
other effect is null.

    .venv/bin/python bench/lenth.py [--repetitions 1000]
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
from seed_bank import load_predictions  # noqa: E402

from ablate import fractional  # noqa: E402
from ablate.results.effects import factor_effects  # noqa: E402
from ablate.results.outcomes import Outcomes  # noqa: E402
from ablate.results.statistics import HOLM, NO_ADJUSTMENT  # noqa: E402

MIN_EFFECT = 0.005
DECIDED = ("better", "worse")


def designs() -> dict[str, np.ndarray]:
    full = np.array([[1 if (index >> bit) & 1 else -1 for bit in range(4)] for index in range(16)])
    return {"2^4 full": full, "2^(6-2) fraction": fractional.fractional_signs(6, 4)}


def effects(signs: np.ndarray, runs: list[np.ndarray], true: np.ndarray,
            multiplicity: str) -> pd.DataFrame:  # fmt: skip
    """effects.csv of a one-seed study whose cell i (levels from ``signs``) predicted
    ``runs[i]``."""
    names = [f"f{i}" for i in range(signs.shape[1])]
    levels = np.where(signs > 0, "hi", "lo")
    frame = pd.DataFrame(levels, columns=names)
    frame["cell"] = [f"c{i}" for i in range(len(signs))]
    frame["seed"], frame["status"] = 1, "ok"
    classes = sorted(set(true))
    index = {name: i for i, name in enumerate(classes)}
    outcomes = Outcomes(
        [f"{i}.png" for i in range(len(true))], classes, np.array([index[t] for t in true]),
        {(cell, 1): np.array([index.get(p, -1) for p in run])
         for cell, run in zip(frame["cell"], runs, strict=True)},
    )  # fmt: skip
    return factor_effects(frame, names, dict.fromkeys(names, "lo"), outcomes, MIN_EFFECT,
                          multiplicity)  # fmt: skip


def draw(bank: dict[str, np.ndarray], signs: np.ndarray, level: str,
         rng: np.random.Generator) -> list[np.ndarray]:  # fmt: skip
    """One run per cell, every run at its own seed: level a, or ``level`` where f0 is hi."""
    high = signs[:, 0] > 0
    chosen = {"a": list(rng.permutation(len(bank["a"])))}
    if level != "a":
        chosen[level] = list(rng.permutation(len(bank[level])))
    return [bank[level if hi and level != "a" else "a"][chosen[level if hi else "a"].pop()]
            for hi in high]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repetitions", type=int, default=1000)
    args = parser.parse_args()
    started = time.perf_counter()
    bank, true = load_predictions()
    rng = np.random.default_rng(1989)
    lines = [
        "## One seed per cell: Lenth's method (`bench/lenth.py`)",
        "",
        f"Measured {date.today()} on {platform.processor() or platform.machine()}: "
        f"{args.repetitions} drawn studies per figure, one run per cell from the seed bank "
        "(bench/data/seed_bank.csv.gz, 270 test images; level a 0.89, b about 2.5 points "
        "below, c hopeless, d far below with a wide spread), judged by the aggregate's "
        "effects code (ablate.results.effects, Lenth's pseudo standard error with the Ye & "
        "Hamada null distribution). A/A: every cell a run of level a at its own seed; the "
        "share of effects with a false verdict, alone (`multiplicity: none`) and of studies "
        "with any under Holm (the default). Power: f0's high level replaced by level b (c, "
        "d); the share of studies where f0's main effect is 'worse' under Holm, and where "
        "any other (null) effect gets a verdict.",
        "",
        "| design | effects | A/A per effect (none) | A/A any (Holm) | "
        + " | ".join(f"{lv} vs a: f0 worse | {lv}: any null effect decided" for lv in "bcd")
        + " |",
        "|---|---|---|---|" + "---|---|" * 3,
    ]
    for name, signs in designs().items():
        alone, any_holm = [], []
        for _ in range(args.repetitions):
            runs = draw(bank, signs, "a", rng)
            each = effects(signs, runs, true, NO_ADJUSTMENT)["verdict"]
            held = effects(signs, runs, true, HOLM)["verdict"]
            alone.append(each.isin(DECIDED).mean())
            any_holm.append(held.isin(DECIDED).any())
        count = len(each)
        cells = [name, str(count), f"{np.mean(alone):.1%}", f"{np.mean(any_holm):.1%}"]
        for level in "bcd":
            found, spurious = [], []
            for _ in range(args.repetitions):
                table = effects(signs, draw(bank, signs, level, rng), true, HOLM)
                main = (table["term"] == "main") & (table["factor_a"] == "f0")
                found.append(table.loc[main, "verdict"].iloc[0] == "worse")
                spurious.append(table.loc[~main, "verdict"].isin(DECIDED).any())
            cells += [f"{np.mean(found):.1%}", f"{np.mean(spurious):.1%}"]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        f"{time.perf_counter() - started:.0f} s in all. Targets: A/A at most 5 % per effect "
        "and study-wide.",
        "",
        "Read: with one seed per cell, the design's own contrasts are enough to find a level "
        "far below the others (c, d) in every study; a 2.5-point level (b, about 2.5 "
        "standard errors of a main effect of 16 one-run cells) is found rarely: more seeds "
        "or more cells. Under the null the rates stay within the targets; beside d, whose "
        "runs spread four times more than a's, a null effect is decided in up to about 5 % "
        "of studies, at the target's edge (1,000 studies: +/- 0.7 %).",
    ]
    write_section("lenth", lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
