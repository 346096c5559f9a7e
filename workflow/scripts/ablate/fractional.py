"""Two-level fractions of a factorial: which runs to train, and what their contrasts confound.

A 2^(k-p) fractional factorial (Box & Hunter 1961) trains 2^(k-p) of the 2^k cells of k
two-level factors, chosen so that every main effect is still a balanced contrast; its
resolution R says what is confounded: at R = 3 main effects are aliased with two-factor
interactions, at R = 4 two-factor interactions with each other, at R = 5 neither. A
Plackett & Burman (1946) screening design trains N runs (N a multiple of 4) for up to N - 1
factors; its main effects are orthogonal, but each is partly confounded with many
two-factor interactions. Designs come from pyDOE (imported only when asked for: it takes
about a second, and every Snakefile parse resolves the study).

Sign matrices are runs x factors of -1 and +1. Messages here are plain ValueErrors; the
caller (ablate.design) names the config key.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from fractions import Fraction

import numpy as np

RESOLUTIONS = (3, 4, 5)
MANY = 4  # more partial aliases than this are summarised, not listed


def fractional_signs(n_factors: int, resolution: int) -> np.ndarray:
    """The smallest regular 2^(k-p) design of ``n_factors`` at ``resolution`` or better:
    of the designs with that few runs, the one of the highest resolution (pyDOE gives 4
    factors at resolution 3 as d = ab in 8 runs, where d = abc has resolution 4)."""
    if n_factors < 2:
        raise ValueError("a fraction needs at least two factors; use design 'full'")
    from pydoe import fracfact_by_res

    signs = np.asarray(fracfact_by_res(n_factors, resolution), dtype=int)
    # pyDOE before 1.0 returned designs below the asked resolution; never train one.
    found = shortest_word(signs, resolution - 1)
    if found is not None:
        raise ValueError(f"pyDOE gave resolution {found}, not {resolution}: check its version")
    for better in range(resolution + 1, max(RESOLUTIONS) + 1):
        candidate = np.asarray(fracfact_by_res(n_factors, better), dtype=int)
        if len(candidate) > len(signs):
            break
        if shortest_word(candidate, better - 1) is None:
            signs = candidate
    return signs


def screening_signs(n_factors: int) -> np.ndarray:
    """A Plackett-Burman design: the next multiple of 4 above ``n_factors`` runs."""
    if n_factors < 2:
        raise ValueError("a screening design needs at least two factors; use design 'full'")
    from pydoe import pbdesign

    try:
        return np.asarray(pbdesign(n_factors), dtype=int)
    except ValueError:  # pyDOE builds N = 2^e, 12 * 2^e or 20 * 2^e runs only
        raise ValueError(
            f"pyDOE has no Plackett-Burman design for {n_factors} factors (it builds 4, 8, "
            "12, 16, 20, 24, 32, 40, 48 ... runs for up to one factor fewer); leave a "
            "factor out or use design 'fractional'"
        ) from None


def shortest_word(signs: np.ndarray, up_to: int) -> int | None:
    """The length of the shortest word of the defining relation (the resolution of a regular
    design): the fewest columns whose product is the same in every run; None if no set of
    ``up_to`` or fewer columns is."""
    for size in range(1, up_to + 1):
        for columns in itertools.combinations(range(signs.shape[1]), size):
            product = np.prod(signs[:, columns], axis=1)
            if np.all(product == product[0]):
                return size
    return None


def is_orthogonal(signs: np.ndarray) -> bool:
    """Every column balanced and every two columns orthogonal: each main effect is then a
    contrast free of the other main effects (an orthogonal array of strength 2)."""
    if signs.size == 0 or not np.all(np.abs(signs) == 1):
        return False
    runs, factors = signs.shape
    balanced = np.all(signs.sum(axis=0) == 0)
    return bool(balanced and np.array_equal(signs.T @ signs, runs * np.eye(factors, dtype=int)))


Term = tuple[str, ...]  # (a,) for a main effect, (a, b) for a two-factor interaction


def terms_and_columns(signs: np.ndarray, names: Sequence[str]) -> tuple[list[Term], np.ndarray]:
    """Main effects and two-factor interactions with their sign columns (runs x terms)."""
    terms: list[Term] = [(name,) for name in names]
    columns = [signs[:, index] for index in range(len(names))]
    for (i, a), (j, b) in itertools.combinations(enumerate(names), 2):
        terms.append((a, b))
        columns.append(signs[:, i] * signs[:, j])
    return terms, np.column_stack(columns) if columns else np.empty((len(signs), 0), int)


def label(term: Term) -> str:
    return ":".join(term)


def aliases(signs: np.ndarray, names: Sequence[str]) -> dict[Term, str]:
    """Per main effect and two-factor interaction, what its contrast also estimates, up to
    two-factor interactions: "a = b:c = -d:e" where columns coincide (up to sign), "partly
    b:c (+1/3)" where they are correlated, as in non-regular Plackett-Burman designs;
    "" when it is clear of every other such term. Three-factor and higher interactions are
    assumed negligible, as in the design's own construction."""
    terms, columns = terms_and_columns(signs, names)
    runs = len(signs)
    overlap = columns.T @ columns  # integers: runs where two columns agree minus disagree
    found = {}
    for t, term in enumerate(terms):
        full, partial = [], []
        for u, other in enumerate(terms):
            if u == t or overlap[t, u] == 0:
                continue
            if abs(overlap[t, u]) == runs:
                full.append(("-" if overlap[t, u] < 0 else "") + label(other))
            else:
                partial.append((other, Fraction(int(overlap[t, u]), runs)))
        text = " = ".join([label(term), *full]) if full else ""
        if partial:
            text += ("; " if text else "") + _partly(partial)
        found[term] = text
    return found


def _partly(partial: list[tuple[Term, Fraction]]) -> str:
    if len(partial) > MANY:
        largest = max(abs(r) for _, r in partial)
        mains = sum(len(term) == 1 for term, _ in partial)
        kinds = [f"{mains} main effects"] if mains else []
        if len(partial) > mains:
            kinds.append(f"{len(partial) - mains} two-factor interactions")
        return f"partly {' and '.join(kinds)} (|r| <= {largest})"
    return "partly " + ", ".join(f"{label(term)} ({_signed(r)})" for term, r in partial)


def _signed(value: Fraction) -> str:
    return f"+{value}" if value > 0 else str(value)


def clear_of_main_effects(signs: np.ndarray, names: Sequence[str]) -> set[Term]:
    """The two-factor interactions whose contrast is orthogonal to every main effect (all of
    them at resolution >= 4, none of them in a saturated resolution-3 design)."""
    terms, columns = terms_and_columns(signs, names)
    main = columns[:, : len(names)]
    return {
        term
        for t, term in enumerate(terms)
        if len(term) == 2 and not np.any(main.T @ columns[:, t])
    }
