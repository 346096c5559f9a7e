"""Factorial effects and level means of test accuracy, image by image and seed by seed.

A main effect of A=a is the mean over the cells with A=a minus the mean over the cells with
the baseline level of A (equal weight per cell, other factors averaged out); an interaction
of (A=a, B=b) is m(a,b) - m(a,b0) - m(a0,b) + m(a0,b0). Both are contrasts of the cells'
per-image outcomes over the seeds where every cell it weighs succeeded, so they get the same
interval, probability of improvement, p-value and verdict as a comparison of two cells
(ablate.results.verdicts).

Effects need a full grid, or a two-level orthogonal fraction of one: a 2^(k-p) design
(Box & Hunter 1961) or a Plackett & Burman (1946) screening design, where every column is
balanced and every two are orthogonal, so that the same balanced contrast is still free of
the other main effects (resolution >= 3). There the column ``aliases`` says which
two-factor interactions each effect is confounded with (ablate.fractional), and an
interaction is reported only where its contrast is orthogonal to every main effect
(resolution >= 4; at 4 it carries the other interactions of its alias chain, listed).
Elsewhere (one-at-a-time, lists) levels are confounded and there are no effects.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ablate import fractional
from ablate.results import lenth
from ablate.results.intervals import cell_interval
from ablate.results.outcomes import Outcomes
from ablate.results.statistics import HOLM, cell_levels, family, per_seed_table

EFFECT_COLUMNS = ["term", "factor_a", "level_a", "factor_b", "level_b", "reference",
                  "n_seeds", "estimate", "ci_low", "ci_high", "p_value", "p_adjusted",
                  "prob_improvement", "verdict", "verdict_reason", "seeds_needed", "aliases",
                  "rule"]  # fmt: skip
MEAN_COLUMNS = ["term", "factor_a", "level_a", "factor_b", "level_b", "n_seeds", "mean",
                "ci_low", "ci_high"]  # fmt: skip


def _full_grid(cells: pd.DataFrame, factors: Sequence[str]) -> dict[str, list] | None:
    """Each factor's levels when the cells are every combination of the levels that appear
    (exactly once each); otherwise None, as effects would be confounded."""
    if not factors or cells.empty:
        return None
    levels = {factor: list(pd.unique(cells[factor])) for factor in factors}
    expected = math.prod(len(values) for values in levels.values())
    combinations = set(cells.itertuples(index=False, name=None))
    if len(cells) != expected or len(combinations) != expected:
        return None
    return levels


def _two_level_fraction(
    cells: pd.DataFrame, factors: Sequence[str], baseline_levels: Mapping[str, str]
) -> tuple[dict[str, list], np.ndarray] | None:
    """Each factor's levels and the cells' sign matrix (+1: not the baseline level) when
    every factor has two levels, one of them the baseline's, and the cells form an
    orthogonal two-level design; otherwise None."""
    if not factors or cells.empty:
        return None
    levels = {factor: list(pd.unique(cells[factor])) for factor in factors}
    if any(len(levels[f]) != 2 or baseline_levels[f] not in levels[f] for f in factors):
        return None
    signs = np.where(cells[list(factors)].to_numpy() == [baseline_levels[f] for f in factors],
                     -1, 1)  # fmt: skip
    return (levels, signs) if fractional.is_orthogonal(signs) else None


def _with_levels(cells: pd.DataFrame, fixed: Mapping[str, str]) -> list[str]:
    """The cells that have the given levels."""
    mask = np.logical_and.reduce([cells[factor] == level for factor, level in fixed.items()])
    return cells.index[mask].tolist()


def _shared_seeds(outcomes: Outcomes, cells: Sequence[str]) -> list[int]:
    """The seeds every one of ``cells`` finished, so each contrast is balanced."""
    seeds = [set(outcomes.seeds(cell)) for cell in cells]
    return sorted(set.intersection(*seeds)) if seeds else []


def _mean(outcomes: Outcomes, cells: Sequence[str], seeds: Sequence[int]) -> np.ndarray:
    """seeds x images: the per-image outcome averaged over ``cells``, equal weight each."""
    return np.mean([outcomes.correct(cell, seeds) for cell in cells], axis=0)


def factor_effects(
    runs: pd.DataFrame,
    factors: Sequence[str],
    baseline_levels: Mapping[str, str],
    outcomes: Outcomes,
    min_effect: float,
    multiplicity: str = HOLM,
) -> pd.DataFrame:
    """Main effects and two-factor interactions of a full-factorial grid against the
    baseline levels, with verdicts: the effects are one family (their seed variance pooled
    over the grid's cells and, under ``multiplicity`` "holm", their verdicts adjusted
    together, apart from the comparisons with the baseline). Empty (with the columns) when
    there are no factors, the grid is not full or lacks a baseline level. For main effects
    factor_b and level_b are None. Two-level fractions of a grid get main effects, the
    interactions clear of them and their aliases (see the module's docstring); a full
    grid's aliases are empty. With one seed per cell, a two-level design of at least
    lenth.MIN_CELLS cells is judged by Lenth's pseudo standard error (ablate.results.lenth)."""
    factors = list(factors)
    cells = cell_levels(runs, factors)
    levels = _full_grid(cells, factors)
    aliases: dict[tuple[str, ...], str] = {}
    clear = None  # every interaction, in a full grid
    if levels is None and (fraction := _two_level_fraction(cells, factors, baseline_levels)):
        levels, signs = fraction
        aliases = fractional.aliases(signs, factors)
        clear = fractional.clear_of_main_effects(signs, factors)
    if levels is None or any(baseline_levels[f] not in levels[f] for f in factors):
        return pd.DataFrame(columns=EFFECT_COLUMNS)
    seeds = _shared_seeds(outcomes, cells.index.tolist())
    if not seeds:
        return pd.DataFrame(columns=EFFECT_COLUMNS)

    def mean(fixed: Mapping[str, str], seeds: Sequence[int]) -> np.ndarray:
        return _mean(outcomes, _with_levels(cells, fixed), seeds)

    terms, sides, bounds = [], [], []
    for factor in factors:
        base = baseline_levels[factor]
        for level in levels[factor]:
            if level != base:
                terms.append(("main", (factor, level), (None, None), f"vs {factor}={base}",
                              aliases.get((factor,), "")))  # fmt: skip
                sides.append(([{factor: level}], [{factor: base}]))
                bounds.append((-1.0, 1.0))
    for factor_a, factor_b in itertools.combinations(factors, 2):
        if clear is not None and (factor_a, factor_b) not in clear:
            continue  # the same contrast as some main effect (or partly): not an interaction
        base_a, base_b = baseline_levels[factor_a], baseline_levels[factor_b]
        reference = f"interaction vs {factor_a}={base_a}, {factor_b}={base_b}"
        for level_a, level_b in itertools.product(levels[factor_a], levels[factor_b]):
            if level_a == base_a or level_b == base_b:
                continue
            terms.append(("interaction", (factor_a, level_a), (factor_b, level_b), reference,
                          aliases.get((factor_a, factor_b), "")))  # fmt: skip
            # m(a,b) + m(a0,b0) against m(a,b0) + m(a0,b)
            sides.append(([{factor_a: level_a, factor_b: level_b},
                           {factor_a: base_a, factor_b: base_b}],
                          [{factor_a: level_a, factor_b: base_b},
                           {factor_a: base_a, factor_b: level_b}]))  # fmt: skip
            bounds.append((-2.0, 2.0))  # m(a,b) - m(a,b0) - m(a0,b) + m(a0,b0) lies in [-2, 2]
    contrasts = [_contrast(cells, plus, minus) for plus, minus in sides]
    two_level = all(len(levels[f]) == 2 for f in factors)
    if len(seeds) == 1 and two_level and len(cells) >= lenth.MIN_CELLS:
        # One seed per cell of a two-level design: the design's own contrasts measure the
        # noise (Lenth's pseudo standard error).
        signs = np.where(cells[factors].to_numpy() == [baseline_levels[f] for f in factors],
                         -1, 1)  # fmt: skip
        accuracies = np.array([outcomes.correct(cell, seeds).mean() for cell in cells.index])
        results, rule = lenth.judge(signs, accuracies, contrasts, bounds, min_effect,
                                    holm=multiplicity == HOLM)  # fmt: skip
    else:
        # Each effect over the seeds that every cell it weighs finished: in an adaptive
        # study a level's cells that trained on lend their later seeds to its contrasts
        # with other levels that did (a two-level factorial's effects weigh every cell).
        term_seeds = [_shared_seeds(outcomes, cells.index[weight != 0].tolist())
                      for weight in contrasts]  # fmt: skip
        pairs = [(sum(mean(fixed, chosen) for fixed in plus),
                  sum(mean(fixed, chosen) for fixed in minus))
                 for (plus, minus), chosen in zip(sides, term_seeds, strict=True)]  # fmt: skip
        block = per_seed_table(outcomes, cells.index.tolist())  # rows: the cells, in order
        results, rule = family(pairs, min_effect, multiplicity, block=block,
                               weights=contrasts, bounds=bounds)  # fmt: skip
    rows = [_row(*term, result, rule) for term, result in zip(terms, results, strict=True)]
    return pd.DataFrame(rows, columns=EFFECT_COLUMNS).astype({"n_seeds": int})


def _contrast(cells: pd.DataFrame, plus: Sequence[Mapping[str, str]],
              minus: Sequence[Mapping[str, str]]) -> np.ndarray:  # fmt: skip
    """The contrast's weight on each cell: +1/k for each of the k cells of a mean in
    ``plus``, -1/k in ``minus``."""
    weight = np.zeros(len(cells))
    for sign, means in ((1, plus), (-1, minus)):
        for fixed in means:
            chosen = _with_levels(cells, fixed)
            weight[[cells.index.get_loc(cell) for cell in chosen]] += sign / len(chosen)
    return weight


def _row(term: str, a: tuple, b: tuple, reference: str, aliases: str, result, rule: str) -> dict:
    return {
        "term": term,
        "factor_a": a[0],
        "level_a": a[1],
        "factor_b": b[0],
        "level_b": b[1],
        "reference": reference,
        "n_seeds": result.seeds,
        "estimate": result.difference,
        "ci_low": result.ci_low,
        "ci_high": result.ci_high,
        "p_value": result.p_value,
        "p_adjusted": result.p_adjusted,
        "prob_improvement": result.probability_of_improvement,
        "verdict": result.verdict,
        "verdict_reason": result.reason,
        "seeds_needed": result.seeds_needed,
        "aliases": aliases,
        "rule": rule,
    }


def level_means(runs: pd.DataFrame, factors: Sequence[str], outcomes: Outcomes) -> pd.DataFrame:
    """Mean test accuracy at each level of each factor (term "level") and at each pair of
    levels of two factors that some cell has (term "pair"): per image and seed the mean over
    the cells with those levels (equal weight per cell), over the seeds all of them
    finished, with the interval over seeds and images of ablate.results.intervals. A pair of a
    two-factor study is one cell: its mean and interval are the cell's. Outside a full grid
    the levels are confounded with the other factors': descriptive only."""
    factors = list(factors)
    cells = cell_levels(runs, factors)
    if not factors or cells.empty:
        return pd.DataFrame(columns=MEAN_COLUMNS)
    levels = {factor: list(pd.unique(cells[factor])) for factor in factors}
    terms = [("level", {factor: level}) for factor in factors for level in levels[factor]]
    for factor_a, factor_b in itertools.combinations(factors, 2):
        for level_a, level_b in itertools.product(levels[factor_a], levels[factor_b]):
            terms.append(("pair", {factor_a: level_a, factor_b: level_b}))
    rows = []
    for term, fixed in terms:
        chosen = _with_levels(cells, fixed)
        seeds = _shared_seeds(outcomes, chosen)
        if not chosen or not seeds:  # a combination left out, or no finished seed
            continue
        found = cell_interval(_mean(outcomes, chosen, seeds))
        (factor_a, level_a), (factor_b, level_b) = [*fixed.items(), (None, None)][:2]
        rows.append(
            {"term": term, "factor_a": factor_a, "level_a": level_a, "factor_b": factor_b,
             "level_b": level_b, "n_seeds": len(seeds), "mean": found.estimate,
             "ci_low": found.low, "ci_high": found.high}
        )  # fmt: skip
    return pd.DataFrame(rows, columns=MEAN_COLUMNS).astype({"n_seeds": int})
