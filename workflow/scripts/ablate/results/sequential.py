"""Adaptive seeds: a group-sequential verdict after every round of seeds.

An adaptive study (``seeds: {min, max, step}``) trains ``min`` seeds per cell, compares
every cell with the baseline, and gives ``step`` more seeds only to the cells still
undecided, up to ``max``. Deciding as soon as a test crosses 0.05 would inflate the false
verdicts (every look is another chance; Armitage, McPherson & Rowe 1969), so each look k
gets its own, smaller significance level from an alpha-spending function (Lan & DeMets
1983): Kim & DeMets' (1987) power family alpha(t) = alpha t^RHO with RHO = 1, t the
fraction of the maximum seeds seen, two-sided (gsDesign's ``sfPower``). O'Brien-Fleming-
type spending (RHO about 3), which ablate used before, spends almost nothing early (0.00009
at 2 of 8 seeds), where a two-seed t test has few degrees of freedom, so a clear difference
trained on to 4 or 6 seeds; with RHO = 1 it stops sooner, at a small cost in power where the
difference is small (bench/adaptive.py, docs/benchmarks.md). The look's two-sided boundary
c_k solves

    P(|Z_1| < c_1, ..., |Z_{k-1}| < c_{k-1}, |Z_k| >= c_k) = alpha(t_k) - alpha(t_{k-1})

for the canonical joint distribution of the looks' statistics, Corr(Z_i, Z_j) =
sqrt(t_i / t_j) (Jennison & Turnbull 2000, "Group Sequential Methods", ch. 2 and 7). A
comparison at look k
is then the usual one (ablate.results.verdicts) at the nominal level 2 (1 - Phi(c_k)):
with t statistics in place of z, the standard approximation (Jennison & Turnbull, 3.6),
and its interval is the repeated confidence interval of that look (Jennison & Turnbull
1989), so a stopped cell's interval agrees with its verdict. Stopping for "no difference"
(the interval within +/- min_effect) only lowers the false-verdict rate, and so does
stopping an undecided comparison for futility: when even the last look would decide it
with less than ``futility`` chance (checks.futility) should the difference stay as it is
(conditional power, Lan, Simon & Halperin 1982; a non-binding futility rule). The whole
procedure's A/A rate is measured on real runs and in simulation (bench/adaptive.py).
(spotify-confidence solves such bounds too, but brings a plotting stack along.)
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import optimize, stats

from ablate.results.outcomes import Outcomes
from ablate.results.statistics import compare_with_baseline
from ablate.results.verdicts import ALPHA, UNDECIDED, Comparison, compare

OPEN, STOPPED = "open", "stopped"
RHO = 1.0  # the spending function's power: 1 spends alpha in proportion to the seeds seen


def spent(t: float, alpha: float = ALPHA) -> float:
    """The alpha spent up to information fraction ``t`` (Kim-DeMets power family)."""
    return float(alpha * min(max(t, 0.0), 1.0) ** RHO)


GRID = 2001  # quadrature points per look (odd, for Simpson's rule)


def _simpson(n: int, width: float) -> np.ndarray:
    weights = np.ones(n)
    weights[1:-1:2], weights[2:-1:2] = 4, 2
    return weights * width / (3 * (n - 1))


def _crossing_excess(
    c: float, points: np.ndarray, weights: np.ndarray, t: float, spread: float, target: float
) -> float:
    """P(first crossing of boundary ``c`` at information ``t``) minus ``target``, given the
    weighted points of B before it (no crossing yet) and the increment's spread."""
    edge = c * np.sqrt(t)
    upper = stats.norm.sf((edge - points) / spread)
    return float(weights @ (upper + stats.norm.cdf((-edge - points) / spread))) - target


@functools.cache
def boundaries(looks: tuple[int, ...], alpha: float = ALPHA) -> tuple[float, ...]:
    """Two-sided z boundaries of looks after ``looks[k]`` seeds (increasing).

    Computed by the recursive numerical integration of Armitage, McPherson & Rowe (1969)
    (Jennison & Turnbull 2000, ch. 19) on B_k = Z_k sqrt(t_k), a Brownian motion: the
    density of B on the region where no boundary was crossed yet, carried from look to
    look; the crossing probability of the next look is exact given that density."""
    if list(looks) != sorted(set(looks)) or looks[0] < 1:
        raise ValueError(f"looks must be increasing seed counts, got {looks}")
    fractions = [n / looks[-1] for n in looks]
    points, weights = np.zeros(1), np.ones(1)  # B_0 = 0 with probability 1
    bounds: list[float] = []
    before = 0.0
    for t in fractions:
        spread = np.sqrt(t - before)
        target = spent(t, alpha) - spent(before, alpha)
        bound = optimize.brentq(_crossing_excess, 0.01, 40.0, xtol=1e-10,
                                args=(points, weights, t, spread, target))  # fmt: skip
        bounds.append(float(bound))
        edge = bound * np.sqrt(t)
        grid = np.linspace(-edge, edge, GRID)
        density = stats.norm.pdf((grid[:, None] - points[None, :]) / spread) @ weights / spread
        points, weights, before = grid, density * _simpson(GRID, 2 * edge), t
    return tuple(bounds)


def nominal_alphas(looks: Sequence[int], alpha: float = ALPHA) -> list[float]:
    """The significance level of a comparison at each look. One look: ``alpha`` itself."""
    if len(looks) == 1:
        return [alpha]
    return [float(2 * stats.norm.sf(c)) for c in boundaries(tuple(looks), alpha)]


def next_state(
    previous: Mapping[str, Mapping[str, object]],
    compared: Mapping[str, Mapping[str, object]],
    round_: int,
    rounds: int,
    baseline: str,
    futility: float,
) -> dict[str, dict[str, object]]:
    """Every cell's state after round ``round_`` (0-based) of ``rounds``.

    ``previous`` is the state after the round before (empty for the first), ``compared``
    the comparisons with the baseline of the cells that were open in this round
    ({verdict, verdict_reason, n_pairs, ...}). A cell stays open while its verdict is
    undecided, rounds are left and its conditional power is at least ``futility``; the
    baseline stays open while any cell does (the comparisons pair seeds)."""
    last = round_ == rounds - 1
    state = {cell: dict(values) for cell, values in previous.items()}
    for cell, result in compared.items():
        verdict = str(result["verdict"])
        seeds = int(result["n_pairs"])  # type: ignore[call-overload]
        power = result.get("conditional_power")
        futile = _futile(power, futility)
        if verdict != UNDECIDED:
            why = f"decided after {seeds} seed(s): {verdict} ({result['verdict_reason']})"
        elif last:
            why = f"still undecided at the maximum seeds ({seeds}): {result['verdict_reason']}"
        elif futile:
            why = (f"stopped undecided after {seeds} seed(s): if the difference stays "
                   f"{result['difference']:+.3g}, the last look would decide it with "
                   f"probability {power:.2f} (< futility {futility:g})")  # fmt: skip
        else:
            why = f"undecided after {seeds} seed(s): {result['verdict_reason']}"
        keep_open = not stops_here(verdict, power, futility, last)
        state[cell] = {"state": OPEN if keep_open else STOPPED, "round": round_,
                       "verdict": verdict, "why": why}  # fmt: skip
    others_open = any(v["state"] == OPEN for c, v in state.items() if c != baseline)
    state[baseline] = {
        "state": OPEN if others_open else STOPPED,
        "round": round_,
        "verdict": "",
        "why": "the reference: as many seeds as the most demanding comparison"
        + ("" if others_open else " (no cell left open)"),
    }
    return state


def _futile(power: object, futility: float) -> bool:
    """Whether a conditional power (None or NaN where there is none) is below the bar."""
    return power is not None and not pd.isna(power) and float(power) < futility  # type: ignore[arg-type]


def open_cells(state: Mapping[str, Mapping[str, object]]) -> list[str]:
    """The cells that train another round, in the state's order."""
    return [cell for cell, values in state.items() if values["state"] == OPEN]


def decide_round(
    runs: pd.DataFrame,
    outcomes: Outcomes,
    baseline: str,
    min_effect: float,
    previous: Mapping[str, Mapping[str, object]],
    round_: int,
    looks: Sequence[int],
    futility: float,
) -> dict[str, object]:
    """The decision file of round ``round_``: each open cell compared with the baseline at
    this look's level; every cell's state; the cells that train the next round."""
    alphas = nominal_alphas(looks)
    alpha = alphas[round_]
    still_open = [cell for cell, values in previous.items() if values["state"] == OPEN]
    deciding = [cell for cell in pd.unique(runs["cell"])
                if cell != baseline and (not previous or cell in still_open)]  # fmt: skip
    these = runs[runs["cell"].isin([*deciding, baseline])]
    last_look = (looks[-1], alphas[-1])
    compared = compare_with_baseline(these, baseline, outcomes, min_effect,
                                     alphas=dict.fromkeys(deciding, alpha),
                                     last_look=last_look)  # fmt: skip
    rows = compared.set_index("cell").to_dict("index")
    state = next_state(previous, rows, round_, len(looks), baseline, futility)
    return {"round": round_, "seeds": looks[round_], "alpha": alpha, "cells": state,
            "next": open_cells(state)}  # fmt: skip


def stop_alphas(
    state: Mapping[str, Mapping[str, object]], looks: Sequence[int]
) -> dict[str, float]:
    """Each cell's significance level at the look that decided or stopped it."""
    alphas = nominal_alphas(looks)
    return {cell: alphas[int(values["round"])] for cell, values in state.items()}  # type: ignore[call-overload]


def looks_compared(
    scores: np.ndarray, reference: np.ndarray, looks: Sequence[int], min_effect: float
) -> Iterator[Comparison]:
    """The comparison at each look in turn, at its level (lazily: a caller that stops
    early computes no more), given every seed the comparison could train (rows up to
    ``looks[-1]``)."""
    alphas = nominal_alphas(looks)
    for seeds, alpha in zip(looks, alphas, strict=True):
        yield compare(scores[:seeds], reference[:seeds], min_effect, alpha=alpha,
                      last_look=(looks[-1], alphas[-1]))  # fmt: skip


def stops_here(verdict: str, power: object, futility: float, last: bool) -> bool:
    """Whether a comparison stops at this look: a verdict, a conditional ``power`` below
    ``futility``, or the last look (the rule of the workflow's rounds and of simulations)."""
    return verdict != UNDECIDED or last or _futile(power, futility)


def sequential_compare(
    scores: np.ndarray,
    reference: np.ndarray,
    looks: Sequence[int],
    min_effect: float,
    futility: float,
) -> tuple[Comparison, int]:
    """The adaptive procedure on one comparison: compare after each look at its level and
    stop at the first verdict, when the conditional power falls below ``futility``, or at
    the last look. Returns that comparison and the look's index. (The same rule as the
    workflow's rounds, for simulations and benchmarks.)"""
    for look, result in enumerate(looks_compared(scores, reference, looks, min_effect)):
        if stops_here(result.verdict, result.conditional_power, futility, look == len(looks) - 1):
            return result, look
    raise ValueError("no looks")
