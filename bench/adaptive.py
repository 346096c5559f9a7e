"""Benchmark: adaptive seeds (``seeds: {min: 2, max: 8, step: 2}``) against the fixed 8-seed
design, on the bank of real runs (bench/seed_bank.py) and on simulated runs: the runs each
needs, how often both reach the same verdict, and the false-verdict rate of the whole
adaptive procedure, beside the naive rule (0.05 at every look) that shows why the looks
need their group-sequential levels (ablate.results.sequential). Results go to
docs/benchmarks.md.

A comparison is one cell against the baseline: 8 seeds of each, drawn without overlap from
the bank's 20 seeds per level (A/A: 16 distinct seeds of level a). The adaptive procedure
looks after 2, 4, 6 and 8 of them and stops at its first verdict; the fixed design compares
all 8. Runs are counted as the issue does: each cell's seeds plus the baseline's, which
trains as many as the most demanding cell (one comparison: 2 x the seeds of its last look).

    .venv/bin/python bench/adaptive.py [--repetitions 2000]
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow" / "scripts"))
from benchmarks_doc import write_section  # noqa: E402
from calibration import load_bank, simulated  # noqa: E402

from ablate.config import with_defaults  # noqa: E402
from ablate.design import looks_of, seed_rounds  # noqa: E402
from ablate.results.sequential import (  # noqa: E402
    looks_compared,
    nominal_alphas,
    sequential_compare,
    stops_here,
)
from ablate.results.verdicts import ALPHA, BETTER, UNDECIDED, WORSE, compare  # noqa: E402

# The config's defaults (min_effect 0.005, futility 0.05), from the schema.
CHECKS = with_defaults({}, "properties/checks")
MIN_EFFECT, FUTILITY = CHECKS["min_effect"], CHECKS["futility"]
ROUNDS = [[1, 2], [3, 4], [5, 6], [7, 8]]  # seeds: {min: 2, max: 8, step: 2}
LOOKS = tuple(looks_of(ROUNDS))
MAX_SEEDS = LOOKS[-1]
DECIDED = (BETTER, WORSE)
RUNS_TARGET, AGREEMENT_TARGET, FALSE_TARGET = 0.5, 0.95, 0.05
# The trade-off table: every step and futility bar on the same draws.
STEPS, FUTILITIES = (2, 1), (0.0, 0.03, 0.05, 0.1, 0.2)
LOOKS_OF_STEP = {step: tuple(looks_of(seed_rounds({"min": 2, "max": MAX_SEEDS, "step": step},
                                                  "base", ["base"])))
                 for step in STEPS}  # fmt: skip

Draw = Callable[[], tuple[np.ndarray, np.ndarray]]  # (cell, baseline), MAX_SEEDS x images


def naive_compare(scores: np.ndarray, reference: np.ndarray) -> tuple[str, int]:
    """The same rounds, deciding at 0.05 at every look: the verdict and the look's index."""
    for look, seeds in enumerate(LOOKS):
        verdict = compare(scores[:seeds], reference[:seeds], MIN_EFFECT, alpha=ALPHA).verdict
        if verdict != UNDECIDED or look == len(LOOKS) - 1:
            return verdict, look
    raise ValueError("no looks")


@dataclass
class Tally:
    """What one kind of comparison gave over its repetitions."""

    name: str
    aa: bool  # identical settings: every 'better' or 'worse' is false
    adaptive: list[str] = field(default_factory=list)
    fixed: list[str] = field(default_factory=list)
    naive: list[str] = field(default_factory=list)
    stop: list[int] = field(default_factory=list)  # adaptive: index of the stopping look
    naive_stop: list[int] = field(default_factory=list)
    first_p: list[float] = field(default_factory=list)  # p-value at the first look

    def add(self, scores: np.ndarray, reference: np.ndarray) -> None:
        result, look = sequential_compare(scores, reference, LOOKS, MIN_EFFECT, FUTILITY)
        self.adaptive.append(result.verdict)
        self.stop.append(look)
        first = LOOKS[0]
        self.first_p.append(compare(scores[:first], reference[:first], MIN_EFFECT).p_value)
        self.fixed.append(compare(scores, reference, MIN_EFFECT).verdict)
        verdict, look = naive_compare(scores, reference)
        self.naive.append(verdict)
        self.naive_stop.append(look)

    def runs(self, stops: Sequence[int]) -> float:
        """Mean runs per comparison: the cell's seeds and as many of the baseline."""
        return float(np.mean([2 * LOOKS[look] for look in stops]))

    def agreement(self) -> float:
        return float(np.mean([a == f for a, f in zip(self.adaptive, self.fixed, strict=True)]))

    def share(self, verdicts: Sequence[str], wanted: Sequence[str]) -> float:
        return float(np.mean([verdict in wanted for verdict in verdicts]))

    def row(self) -> str:
        fixed_runs = 2 * MAX_SEEDS
        stops = np.bincount(self.stop, minlength=len(LOOKS)) / len(self.stop)
        wanted = DECIDED if self.aa else (WORSE,)
        n = len(self.adaptive)
        decided = [self.share(v, wanted) for v in (self.adaptive, self.fixed, self.naive)]
        error = "" if not self.aa else f" +/- {np.sqrt(decided[0] * (1 - decided[0]) / n):.1%}"
        return (
            f"| {self.name} | {self.runs(self.stop):.1f} / {fixed_runs} "
            f"({self.runs(self.stop) / fixed_runs:.2f}) | "
            + " / ".join(f"{share:.0%}" for share in stops)
            + f" | {self.agreement():.1%} | {decided[0]:.1%}{error} | {decided[1]:.1%} "
            f"| {decided[2]:.1%} ({self.runs(self.naive_stop):.1f} runs) |"
        )


def measure(name: str, draw: Draw, repetitions: int, aa: bool = False) -> Tally:
    tally = Tally(name, aa)
    for _ in range(repetitions):
        tally.add(*draw())
    return tally


def overall(tallies: Sequence[Tally]) -> tuple[float, float]:
    """Runs ratio and agreement over all comparisons of ``tallies`` (an equal mix)."""
    stops = [look for tally in tallies for look in tally.stop]
    runs = float(np.mean([2 * LOOKS[look] for look in stops])) / (2 * MAX_SEEDS)
    agree = float(np.mean([tally.agreement() for tally in tallies]))
    return runs, agree


def stopping_look(seen: list, trail: Iterator, looks: Sequence[int], futility: float) -> int:
    """The look at which a comparison stops at this futility bar; ``seen`` caches the
    comparisons ``trail`` gave so far, so several bars share them."""
    look = 0
    while True:
        if look == len(seen):
            seen.append(next(trail))
        result, last = seen[look], look == len(looks) - 1
        if stops_here(result.verdict, result.conditional_power, futility, last):
            return look
        look += 1


def trade_off(kinds: Sequence[tuple[Draw, bool]], repetitions: int) -> dict[tuple, tuple]:
    """(step, futility) -> (runs ratio, same verdict share, A/A false share) over an equal
    mix of ``kinds`` (a draw and whether it is A/A), every setting on the same draws."""
    runs: dict[tuple, list] = {}
    agree: dict[tuple, list] = {}
    false: dict[tuple, list] = {}
    for draw, aa in kinds:
        for _ in range(repetitions):
            scores, reference = draw()
            fixed = compare(scores, reference, MIN_EFFECT).verdict
            for step, looks in LOOKS_OF_STEP.items():
                seen: list = []
                trail = looks_compared(scores, reference, looks, MIN_EFFECT)
                for futility in FUTILITIES:
                    look = stopping_look(seen, trail, looks, futility)
                    key = (step, futility)
                    runs.setdefault(key, []).append(looks[look] / MAX_SEEDS)
                    agree.setdefault(key, []).append(seen[look].verdict == fixed)
                    if aa:
                        false.setdefault(key, []).append(seen[look].verdict in DECIDED)
    return {key: (np.mean(runs[key]), np.mean(agree[key]), np.mean(false[key])) for key in runs}


def trade_off_lines(real: dict, fake: dict, repetitions: int) -> list[str]:
    """The trade-off table and which settings meet all three targets."""

    def cells(point: tuple) -> str:
        return f"{point[0]:.2f} / {point[1]:.1%} / {point[2]:.1%}"

    def meets(point: tuple) -> bool:
        runs, agree, false = point
        return runs <= RUNS_TARGET and agree >= AGREEMENT_TARGET and false <= FALSE_TARGET

    met = [f"step {step}, futility {futility:g}" for (step, futility) in real
           if meets(real[step, futility]) and meets(fake[step, futility])]  # fmt: skip
    rows = [f"| {step} | {futility:g} | {cells(real[step, futility])} | "
            f"{cells(fake[step, futility])} |" for (step, futility) in real]  # fmt: skip
    return [
        "",
        f"The trade-off ({repetitions} comparisons of each kind above, every setting on the "
        "same draws; `seeds: {min: 2, max: 8, step}` and `checks.futility`; runs as a ratio "
        "of the fixed design's / same verdict as fixed 8 / A/A false verdicts):",
        "",
        "| step | futility | real runs | simulated runs |",
        "|---:|---:|---|---|",
        *rows,
        "",
        "Settings that meet all three targets on both kinds of runs: "
        + ("; ".join(met) if met else "none")
        + ". A higher futility bar stops look-alikes sooner and gives up more of the "
        "verdicts the fixed design reaches late; step 1 looks after every seed, so a "
        "comparison stops as soon as it can, at the price of more rounds (more waiting "
        "between them when many GPUs train a round at once; none with one GPU).",
    ]


def study_runs(stops: Sequence[int]) -> tuple[int, int]:
    """Runs of one study whose cells stopped at ``stops``: adaptive, then fixed."""
    seeds = [LOOKS[look] for look in stops]
    return sum(seeds) + max(seeds), (len(stops) + 1) * MAX_SEEDS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repetitions", type=int, default=2000)
    args = parser.parse_args()
    started = time.perf_counter()
    bank = load_bank()
    rng = np.random.default_rng(2025)

    def bank_same() -> tuple[np.ndarray, np.ndarray]:
        order = rng.permutation(len(bank["a"]))
        return bank["a"][order[:MAX_SEEDS]], bank["a"][order[MAX_SEEDS : 2 * MAX_SEEDS]]

    def bank_level(level: str) -> Draw:
        def draw() -> tuple[np.ndarray, np.ndarray]:
            pick = rng.choice(len(bank[level]), size=MAX_SEEDS, replace=False)
            other = rng.choice(len(bank["a"]), size=MAX_SEEDS, replace=False)
            return bank[level][pick], bank["a"][other]

        return draw

    def shifted(shift: float) -> Draw:
        return lambda: (simulated(rng, MAX_SEEDS, shift), simulated(rng, MAX_SEEDS))

    n = args.repetitions
    real = [
        measure("real: a vs a (A/A)", bank_same, n, aa=True),
        measure("real: b vs a", bank_level("b"), n),
        measure("real: c vs a", bank_level("c"), n),
    ]
    shifts = (-0.2, -0.4, -0.8, -2.0)
    fake = [
        measure("simulated: A/A", shifted(0.0), n, aa=True),
        *[measure(f"simulated: shift {shift:g}", shifted(shift), n) for shift in shifts],
    ]
    # One study as the issue counts it: baseline a, cells a' (A/A), b and c, one draw each.
    studies = [study_runs([real[0].stop[i], real[1].stop[i], real[2].stop[i]])
               for i in range(n)]  # fmt: skip
    study_ratio = np.mean([adaptive for adaptive, _ in studies]) / studies[0][1]
    real_kinds = [(bank_same, True), (bank_level("b"), False), (bank_level("c"), False)]
    fake_kinds = [(shifted(0.0), True), *[(shifted(shift), False) for shift in shifts]]
    trade = n // 2
    trade_lines = trade_off_lines(trade_off(real_kinds, trade), trade_off(fake_kinds, trade), trade)
    seconds = time.perf_counter() - started
    alphas = nominal_alphas(LOOKS)
    accuracy = {level: runs.mean(axis=1).mean() for level, runs in bank.items()}
    simulated_accuracy = {shift: simulated(np.random.default_rng(1), 200, shift).mean()
                          for shift in (0.0, *shifts)}  # fmt: skip
    lines = [
        "## Adaptive seeds (`bench/adaptive.py`)",
        "",
        f"Measured {date.today()} on {platform.processor() or platform.machine()}, "
        f"{n} comparisons per row ({seconds:.0f} s in all), min_effect {MIN_EFFECT}. "
        "`seeds: {min: 2, max: 8, step: 2}`: looks after "
        + ", ".join(str(look) for look in LOOKS)
        + " seeds per cell at the nominal levels "
        + ", ".join(f"{alpha:.2g}" for alpha in alphas)
        + " (ablate.results.sequential: Lan-DeMets O'Brien-Fleming spending of 0.05); a "
        "cell stops at its first verdict, or undecided when even the last look would decide "
        f"it with probability below checks.futility = {FUTILITY:g} should its difference "
        "stay as it is (conditional power). Each comparison draws 8 seeds for the cell and 8 "
        "for the baseline without overlap from the bank's 20 per level (bench/data/"
        f"seed_bank.csv.gz; level a {accuracy['a']:.3f}, b {accuracy['b']:.3f}, c "
        f"{accuracy['c']:.3f}) or simulates them (`simulated` of bench/calibration.py: 270 "
        "images, per-image flips and whole-model shifts; accuracy "
        + ", ".join(f"{value:.3f}" for value in simulated_accuracy.values())
        + " at shift 0, "
        + ", ".join(f"{shift:g}" for shift in shifts)
        + "). Runs are counted as the issue does: the cell's seeds plus as many of the "
        "baseline's (2 x 8 = 16 for the fixed design). Verdicts: for A/A rows the share "
        "'better' or 'worse' (all false; +/- one Monte Carlo standard error), for the "
        "others the share 'worse'. The naive rule decides at 0.05 at every look.",
        "",
        "| comparison | runs, adaptive / fixed (ratio) | stopped after 2 / 4 / 6 / 8 seeds "
        "| same verdict as fixed 8 | adaptive | fixed 8 | naive (its runs) |",
        "|---|---|---|---|---|---|---|",
        *[tally.row() for tally in [*real, *fake]],
        "",
    ]
    verdicts = []
    for label, tallies in (("real runs", real), ("simulated runs", fake)):
        ratio, agree = overall(tallies)
        aa = tallies[0]
        false = aa.share(aa.adaptive, DECIDED)
        naive = aa.share(aa.naive, DECIDED)
        verdicts.append(
            f"- {label} (the rows above as an equal mix): adaptive needs **{ratio:.2f}** of "
            f"the fixed design's runs (target at most {RUNS_TARGET:g}"
            f"{'' if ratio <= RUNS_TARGET else '; missed'}); the same verdict in "
            f"**{agree:.1%}** of comparisons (target at least {AGREEMENT_TARGET:.0%}"
            f"{'' if agree >= AGREEMENT_TARGET else '; missed'}); A/A false verdicts "
            f"**{false:.1%}** (target at most {FALSE_TARGET:.0%}"
            f"{'' if false <= FALSE_TARGET else '; missed'}), naive rule {naive:.1%}."
        )
    lines += [
        *verdicts,
        f"- one study as the issue counts it (baseline a; cells a', b and c, the i-th draws "
        f"of the three real rows): adaptive {np.mean([a for a, _ in studies]):.1f} runs, mean "
        f"over {n} such studies, against "
        f"{studies[0][1]} fixed, **{study_ratio:.2f}**.",
    ]
    first = real[2]
    lines += [
        "",
        "Where the runs go: a comparison that stays undecided (A/A, or an effect near "
        "min_effect) trains on until the futility rule stops it (A/A rows: "
        f"{np.mean(np.less(real[0].stop, len(LOOKS) - 1)):.0%} of the real ones before 8 "
        "seeds), and the futility rule's price is the verdicts it gives up: the fixed "
        "design's verdicts that a still-small early difference would have grown into (the "
        "'same verdict' column of b vs a). The first "
        "look decides only the clearest differences, and not reliably: its level is "
        f"{alphas[0]:.1e}, and with 2 seeds the t test "
        "has only a few degrees of freedom (each side's spread is measured on one). Even "
        f"the hopeless level c, {accuracy['a'] - accuracy['c']:.2f} below a, has p below "
        f"0.05 at 2 seeds in {np.mean(np.less(first.first_p, ALPHA)):.0%} of draws but "
        f"below {alphas[0]:.1e} in {np.mean(np.less(first.first_p, alphas[0])):.0%} "
        f"(median p {np.median(first.first_p):.1e}), so it stops after 2 seeds in "
        f"{np.mean(np.equal(first.stop, 0)):.0%} and after 4 in "
        f"{np.mean(np.equal(first.stop, 1)):.0%}.",
    ]
    lines += trade_lines
    write_section("adaptive", lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
