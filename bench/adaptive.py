"""Benchmark: adaptive seeds (``seeds: {min: 2, max: 8, step: 2}``) against the fixed 8-seed
design, on the bank of real runs (bench/seed_bank.py) and on simulated runs: the runs each
needs, how often both reach the same verdict, and the false-verdict rate of the whole
adaptive procedure, beside the naive rule (0.05 at every look) that shows why the looks
need their group-sequential levels (ablate.results.sequential). Results go to
docs/benchmarks.md.

A comparison is one cell against the baseline at the same 8 seeds, drawn from the bank's 20
seeds per level, paired as the pipeline pairs them (A/A: level a at 16 distinct seeds, the
first 8 against the others as if paired: identical settings at one seed train one model).
The adaptive procedure looks after 2, 4, 6 and 8 of them and stops at its first verdict; the
fixed design compares all 8, on the same draws. Targets per effect: A/A false verdicts at
most 5 %; power no more than 5 points below the fixed design's; runs at most 0.65 of the
fixed design's under A/A and 0.5 for large effects (those a fixed design of 4 seeds finds in
at least 95 % of draws). Runs are counted as the issue does: each cell's seeds plus the baseline's,
which trains as many as the most demanding cell (one comparison: 2 x the seeds of its last
look).

    .venv/bin/python bench/adaptive.py [--repetitions 2000]
"""

from __future__ import annotations

import argparse
import itertools
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
from calibration import load_bank, simulated_study  # noqa: E402

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
FALSE_TARGET, POWER_LOSS = 0.05, 0.05
NULL_RUNS, LARGE_RUNS = 0.65, 0.5  # runs ratio under A/A, and for large effects
# An effect is large when a fixed design of half the seeds finds it this often: half the
# runs are then enough, and an adaptive design should spend about that.
LARGE = 0.95
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
    half: list[str] = field(default_factory=list)  # the fixed design at half the seeds
    first_p: list[float] = field(default_factory=list)  # p-value at the first look

    def add(self, scores: np.ndarray, reference: np.ndarray) -> None:
        result, look = sequential_compare(scores, reference, LOOKS, MIN_EFFECT, FUTILITY)
        self.adaptive.append(result.verdict)
        self.stop.append(look)
        first = LOOKS[0]
        self.first_p.append(compare(scores[:first], reference[:first], MIN_EFFECT).p_value)
        self.fixed.append(compare(scores, reference, MIN_EFFECT).verdict)
        half = MAX_SEEDS // 2
        self.half.append(compare(scores[:half], reference[:half], MIN_EFFECT).verdict)
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

    def wanted(self) -> tuple[str, ...]:
        return DECIDED if self.aa else (WORSE,)

    def large(self) -> bool:
        return not self.aa and self.share(self.half, self.wanted()) >= LARGE

    def misses(self) -> list[str]:
        """The targets this kind of comparison misses."""
        ratio = self.runs(self.stop) / (2 * MAX_SEEDS)
        adaptive, fixed = (self.share(v, self.wanted()) for v in (self.adaptive, self.fixed))
        missed = []
        if self.aa and adaptive > FALSE_TARGET:
            missed.append(f"false verdicts above {FALSE_TARGET:.0%}")
        if self.aa and ratio > NULL_RUNS:
            missed.append(f"runs above {NULL_RUNS:g}")
        if not self.aa and adaptive < fixed - POWER_LOSS:
            missed.append(f"power more than {POWER_LOSS * 100:g} points below fixed")
        if self.large() and ratio > LARGE_RUNS:
            missed.append(f"runs above {LARGE_RUNS:g} for a large effect")
        return missed

    def row(self) -> str:
        fixed_runs = 2 * MAX_SEEDS
        stops = np.bincount(self.stop, minlength=len(LOOKS)) / len(self.stop)
        n = len(self.adaptive)
        decided = [self.share(v, self.wanted()) for v in (self.adaptive, self.fixed, self.naive)]
        error = f" +/- {np.sqrt(decided[0] * (1 - decided[0]) / n):.1%}"
        misses = self.misses()
        return (
            f"| {self.name} | {self.runs(self.stop):.1f} / {fixed_runs} "
            f"({self.runs(self.stop) / fixed_runs:.2f}) | "
            + " / ".join(f"{share:.0%}" for share in stops)
            + f" | {decided[0]:.1%}{error} | {decided[1]:.1%} "
            f"| {(decided[0] - decided[1]) * 100:+.1f} | {self.agreement():.1%} "
            f"| {decided[2]:.1%} ({self.runs(self.naive_stop):.1f} runs) "
            f"| {'; '.join(misses) if misses else 'met'} |"
        )


def measure(name: str, draw: Draw, repetitions: int, aa: bool = False) -> Tally:
    tally = Tally(name, aa)
    for _ in range(repetitions):
        tally.add(*draw())
    return tally


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


def trade_off(kinds: Sequence[tuple[Draw, bool]], repetitions: int) -> dict[tuple, list]:
    """(step, futility) -> per kind of ``kinds`` (a draw and whether it is A/A): (A/A,
    runs ratio, share wanted: false verdicts for A/A, 'worse' otherwise, the fixed
    design's share, the half-seeds fixed design's), every setting on the same draws."""
    found: dict[tuple, list] = {key: [] for key in itertools.product(STEPS, FUTILITIES)}
    for draw, aa in kinds:
        wanted = DECIDED if aa else (WORSE,)
        runs: dict[tuple, list] = {key: [] for key in found}
        hits: dict[tuple, list] = {key: [] for key in found}
        fixed_hits, half_hits = [], []
        for _ in range(repetitions):
            scores, reference = draw()
            fixed_hits.append(compare(scores, reference, MIN_EFFECT).verdict in wanted)
            half = MAX_SEEDS // 2
            half_hits.append(compare(scores[:half], reference[:half], MIN_EFFECT).verdict
                             in wanted)  # fmt: skip
            for step, looks in LOOKS_OF_STEP.items():
                seen: list = []
                trail = looks_compared(scores, reference, looks, MIN_EFFECT)
                for futility in FUTILITIES:
                    look = stopping_look(seen, trail, looks, futility)
                    runs[step, futility].append(looks[look] / MAX_SEEDS)
                    hits[step, futility].append(seen[look].verdict in wanted)
        for key in found:
            found[key].append((aa, np.mean(runs[key]), np.mean(hits[key]), np.mean(fixed_hits),
                               np.mean(half_hits)))  # fmt: skip
    return found


def summarised(kinds: list) -> tuple[float, float, float, float, bool]:
    """A/A false share and runs, the largest power loss against fixed, the largest runs
    ratio of a large effect; and whether all targets are met."""
    aa = [(runs, share) for null, runs, share, _, _ in kinds if null]
    loss = max(fixed - share for null, _, share, fixed, _ in kinds if not null)
    large = [runs for null, runs, _, _, half in kinds if not null and half >= LARGE]
    false, null_runs = max(share for _, share in aa), max(runs for runs, _ in aa)
    large_runs = max(large) if large else float("nan")
    met = (false <= FALSE_TARGET and null_runs <= NULL_RUNS and loss <= POWER_LOSS
           and (not large or large_runs <= LARGE_RUNS))  # fmt: skip
    return false, null_runs, loss, large_runs, met


def trade_off_lines(real: dict, fake: dict, repetitions: int) -> list[str]:
    """The trade-off table and which settings meet all the targets."""

    def cells(point: tuple) -> str:
        false, null_runs, loss, large_runs, _ = point
        return f"{false:.1%} / {null_runs:.2f} / {loss * 100:.1f} / {large_runs:.2f}"

    points = {key: (summarised(real[key]), summarised(fake[key])) for key in real}
    met = [f"step {step}, futility {futility:g}" for (step, futility), (r, f) in points.items()
           if r[-1] and f[-1]]  # fmt: skip
    rows = [f"| {step} | {futility:g} | {cells(r)} | {cells(f)} |"
            for (step, futility), (r, f) in points.items()]  # fmt: skip
    return [
        "",
        f"The trade-off ({repetitions} comparisons of each kind above, every setting on the "
        "same draws; `seeds: {min: 2, max: 8, step}` and `checks.futility`; A/A false "
        "verdicts / A/A runs as a ratio of the fixed design's / the largest power loss "
        "against the fixed design, in points, over the effects / the largest runs ratio of "
        "a large effect):",
        "",
        "| step | futility | real runs | simulated runs |",
        "|---:|---:|---|---|",
        *rows,
        "",
        "Settings that meet all the targets on both kinds of runs: "
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
        def draw() -> tuple[np.ndarray, np.ndarray]:  # the same seeds: paired
            pick = rng.choice(len(bank[level]), size=MAX_SEEDS, replace=False)
            return bank[level][pick], bank["a"][pick]

        return draw

    def shifted(shift: float) -> Draw:
        def draw() -> tuple[np.ndarray, np.ndarray]:
            cell, baseline = simulated_study(rng, MAX_SEEDS, [shift, 0.0])
            return cell, baseline

        return draw

    n = args.repetitions
    levels = ("b", "c", "d")
    real = [
        measure("real: a vs a (A/A)", bank_same, n, aa=True),
        *[measure(f"real: {level} vs a", bank_level(level), n) for level in levels],
    ]
    shifts = (-0.1, -0.2, -0.4, -1.0)
    fake = [
        measure("simulated: A/A", shifted(0.0), n, aa=True),
        *[measure(f"simulated: shift {shift:g}", shifted(shift), n) for shift in shifts],
    ]
    # One study as the issue counts it: baseline a, cells a' (A/A), b, c and d, one draw each.
    studies = [study_runs([tally.stop[i] for tally in real]) for i in range(n)]
    study_ratio = np.mean([adaptive for adaptive, _ in studies]) / studies[0][1]
    real_kinds = [(bank_same, True), *[(bank_level(level), False) for level in levels]]
    fake_kinds = [(shifted(0.0), True), *[(shifted(shift), False) for shift in shifts]]
    trade = n // 2
    trade_lines = trade_off_lines(trade_off(real_kinds, trade), trade_off(fake_kinds, trade), trade)
    seconds = time.perf_counter() - started
    alphas = nominal_alphas(LOOKS)
    accuracy = {level: runs.mean(axis=1).mean() for level, runs in bank.items()}
    simulated_accuracy = {
        shift: simulated_study(np.random.default_rng(1), 200, [shift])[0].mean()
        for shift in (0.0, *shifts)
    }
    lines = [
        "## Adaptive seeds (`bench/adaptive.py`)",
        "",
        f"Measured {date.today()} on {platform.processor() or platform.machine()}, "
        f"{n} comparisons per row ({seconds:.0f} s in all), min_effect {MIN_EFFECT}. "
        "`seeds: {min: 2, max: 8, step: 2}`: looks after "
        + ", ".join(str(look) for look in LOOKS)
        + " seeds per cell at the nominal levels "
        + ", ".join(f"{alpha:.2g}" for alpha in alphas)
        + " (ablate.results.sequential: Kim-DeMets spending of 0.05, alpha t); a "
        "cell stops at its first verdict, or undecided when even the last look would decide "
        f"it with probability below checks.futility = {FUTILITY:g} should its difference "
        "stay as it is (conditional power). Each comparison draws 8 seeds of the cell and "
        "the same 8 of the baseline, paired, from the bank's 20 per level (bench/data/"
        f"seed_bank.csv.gz; level a {accuracy['a']:.3f}, b {accuracy['b']:.3f}, c "
        f"{accuracy['c']:.3f}, d {accuracy['d']:.3f}; A/A: 16 distinct seeds of a) or "
        "simulates a two-cell study at shared seeds (`simulated_study` of bench/"
        "calibration.py, sized to the bank; accuracy "
        + ", ".join(f"{value:.3f}" for value in simulated_accuracy.values())
        + " at shift 0, "
        + ", ".join(f"{shift:g}" for shift in shifts)
        + "). One comparison, two cells: nothing pooled, no family to adjust. Runs are "
        "counted as the issue does: the cell's seeds plus as many of the baseline's "
        "(2 x 8 = 16 for the fixed design). Verdicts: for A/A rows the share 'better' or "
        "'worse' (all false), for the others the share 'worse' (power), each +/- one Monte "
        "Carlo standard error; 'fixed 8' on the same draws. The naive rule decides at 0.05 "
        "at every look.",
        "",
        "| comparison | runs, adaptive / fixed (ratio) | stopped after 2 / 4 / 6 / 8 seeds "
        "| adaptive | fixed 8 | adaptive - fixed, points | same verdict as fixed 8 "
        "| naive (its runs) | targets |",
        "|---|---|---|---|---|---|---|---|---|",
        *[tally.row() for tally in [*real, *fake]],
        "",
        f"One study as the issue counts it (baseline a; cells a', b, c and d, the i-th draws "
        f"of the four real rows): adaptive {np.mean([a for a, _ in studies]):.1f} runs, mean "
        f"over {n} such studies, against {studies[0][1]} fixed, **{study_ratio:.2f}**.",
    ]
    first = real[2]
    lines += [
        "",
        "The first look decides only the clearest differences: its level is "
        f"{alphas[0]:.1e}. The hopeless level c, {accuracy['a'] - accuracy['c']:.2f} below "
        f"a, has p below 0.05 at 2 seeds in {np.mean(np.less(first.first_p, ALPHA)):.0%} "
        f"of draws and below {alphas[0]:.1e} in "
        f"{np.mean(np.less(first.first_p, alphas[0])):.0%} (median p "
        f"{np.median(first.first_p):.1e}), so it stops after 2 seeds in "
        f"{np.mean(np.equal(first.stop, 0)):.0%} and after 4 in "
        f"{np.mean(np.equal(first.stop, 1)):.0%}.",
    ]
    lines += trade_lines
    write_section("adaptive", lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
