"""From factors to cells: design expansion, patching and naming (no TensorFlow, no schema)."""

from __future__ import annotations

import copy
import itertools
import re
from collections.abc import Mapping
from typing import Any

from ablate import fractional
from ablate.registry import did_you_mean

BASE_CELL = "base"
DESIGNS = ("full", "one-at-a-time", "list", "fractional", "screening")
TWO_LEVEL = ("fractional", "screening")


class ConfigError(ValueError):
    """A study config that is well-formed YAML but cannot describe a study."""


def deep_merge(base: Mapping[str, Any], patch: Mapping[str, Any] | None) -> dict[str, Any]:
    """Copy of ``base`` with ``patch`` applied: mappings merge key by key, other values replace.

    A mapping that names another registered thing (``model: {name: keras_app:VGG16}`` over
    ``{name: small_convnet, filters: ...}``) replaces the old one: its arguments are not
    the new one's.
    """
    merged = copy.deepcopy(dict(base))
    for key, value in (patch or {}).items():
        if _merges(merged.get(key), value):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def merge_shared(base: Mapping[str, Any], patch: Mapping[str, Any] | None) -> dict[str, Any]:
    """``deep_merge`` without the copies: the result shares every value it does not change
    with ``base`` and ``patch``, so it is for reading only (``resolve_study`` merges each
    cell's levels this way and copies only what its checks fill in)."""
    merged = dict(base)
    for key, value in (patch or {}).items():
        old = merged.get(key)
        merged[key] = merge_shared(old, value) if _merges(old, value) else value
    return merged


def _merges(old: Any, value: Any) -> bool:
    """Whether a patch's ``value`` merges into ``old`` key by key (rather than replacing it)."""
    return (
        isinstance(value, Mapping)
        and isinstance(old, Mapping)
        and value.get("name", old.get("name")) == old.get("name")
    )


def cell_name(levels: Mapping[str, str]) -> str:
    """Readable, path-safe name: ``augmentation-geometric__regularization-dropout``."""
    if not levels:
        return BASE_CELL
    return "__".join(f"{factor}-{level}" for factor, level in levels.items())


def check_level_names(config: Mapping[str, Any]) -> None:
    """Factor and level names must be text as written, in ``factors``, ``baseline`` and
    ``cells`` alike: YAML reads unquoted ``0.5``, ``1`` or ``on`` as a number or a boolean,
    and ``0.50`` or ``yes`` could not be spelled back the way the user wrote them."""
    factors = config.get("factors")
    for factor, levels in factors.items() if isinstance(factors, Mapping) else ():
        _check_name(factor, "factors", "factor")
        for level in levels if isinstance(levels, Mapping) else ():
            _check_name(level, f"factors.{factor}", "level")
    chosen = [("baseline", config.get("baseline"))]
    cells = config.get("cells")
    if isinstance(cells, list):
        chosen += [(f"cells[{index}]", cell) for index, cell in enumerate(cells)]
    for where, mapping in chosen:
        for factor, level in mapping.items() if isinstance(mapping, Mapping) else ():
            _check_name(factor, where, "factor")
            _check_name(level, f"{where}.{_text(factor)}", "level")


def _check_name(name: Any, where: str, what: str) -> None:
    if isinstance(name, str):
        return
    if isinstance(name, bool) or name is None:
        read = "a boolean (unquoted on/off/yes/no/true/false)" if name is not None else "null"
    else:
        read = f"the number {name}"
    raise ConfigError(
        f"config key '{where}': YAML reads the {what} name {_text(name)} as {read}; quote "
        f"it as written, e.g. '{_text(name)}', in factors, baseline and cells alike."
    )


def _text(name: Any) -> str:
    """The name as the user probably wrote it (a boolean's spelling is lost: on or off)."""
    if isinstance(name, bool):
        return "on" if name else "off"
    return "null" if name is None else str(name)


def _check_levels(
    factors: Mapping[str, Mapping[str, Any]], chosen: Mapping[str, str], where: str
) -> None:
    for factor, level in chosen.items():
        if factor not in factors:
            raise ConfigError(
                f"config key '{where}.{factor}': no factor named '{factor}'; "
                f"factors are: {', '.join(factors) or 'none'}."
            )
        if level not in factors[factor]:
            raise ConfigError(
                f"config key '{where}.{factor}': factor '{factor}' has no level '{level}'; "
                f"its levels are: {', '.join(factors[factor])}."
            )


def baseline_levels(
    factors: Mapping[str, Mapping[str, Any]], baseline: Mapping[str, str]
) -> dict[str, str]:
    """The baseline cell's levels: as given, else the first level of each factor."""
    _check_levels(factors, baseline, "baseline")
    return {factor: baseline.get(factor, next(iter(levels))) for factor, levels in factors.items()}


def check_design_keys(config: Mapping[str, Any]) -> None:
    """``resolution`` belongs to design 'fractional', which needs it (checked before the
    schema, so that this clearer line wins over the schema's)."""
    design, resolution = config.get("design", "full"), config.get("resolution")
    if isinstance(design, Mapping) and set(design) != {"leave_one_out"}:
        raise ConfigError(
            f"config key 'design': a mapping is {{leave_one_out: [component, ...]}}, not "
            f"{{{', '.join(map(str, design))}}}."
        )
    if isinstance(design, str) and design not in DESIGNS:
        raise ConfigError(
            f"config key 'design': unknown design '{design}'.{did_you_mean(design, DESIGNS)} "
            f"Use {', '.join(DESIGNS)} or {{leave_one_out: [component, ...]}}."
        )
    if resolution is not None and design != "fractional":
        raise ConfigError(
            f"config key 'resolution': only with design 'fractional', not '{design}'; "
            "remove it or set design: fractional."
        )
    if design == "fractional" and resolution is None:
        raise ConfigError(
            "config key 'resolution': design 'fractional' needs resolution 3, 4 or 5 "
            "(3: fewest runs, main effects aliased with interactions; 5: none aliased)."
        )


REMOVE_FACTOR = "remove"  # the factor a leave-one-out design adds


def leave_one_out(config: Mapping[str, Any]) -> dict[str, Any]:
    """A config whose design is ``{leave_one_out: [component, ...]}`` as the study it
    stands for (Maggy's leave-one-component-out ablation): design 'one-at-a-time' over its
    factors and a factor 'remove' whose first level, 'none', is the whole model and whose
    other levels each remove one component (``model.remove``) on top of any the base
    removes already. Other configs are returned as they are."""
    design = config.get("design")
    if not isinstance(design, Mapping):
        return dict(config)
    factors = dict(config.get("factors") or {})
    if REMOVE_FACTOR in factors:
        raise ConfigError(
            f"config key 'factors.{REMOVE_FACTOR}': design leave_one_out adds a factor "
            f"'{REMOVE_FACTOR}' itself; rename this factor."
        )
    already = list(((config.get("base") or {}).get("model") or {}).get("remove") or [])
    levels: dict[str, Any] = {"none": {}}
    for component in design["leave_one_out"]:
        level = _level_name(component)
        if level in levels:
            raise ConfigError(
                f"config key 'design.leave_one_out': '{component}' would be level '{level}' "
                "of factor 'remove', which another entry (or the whole model, 'none') is "
                "already; name the component differently."
            )
        levels[level] = {"model": {"remove": [*already, component]}}
    factors[REMOVE_FACTOR] = levels
    baseline = {**(config.get("baseline") or {}), REMOVE_FACTOR: "none"}
    return {**config, "factors": factors, "baseline": baseline, "design": "one-at-a-time"}


def _level_name(component: str) -> str:
    """A level name (lower case letters and digits, single '-', '_' or '.' between) for a
    layer name or prefix: 'block1_se' stays, 'SE_' becomes 'se', 'a/b' becomes 'a-b'."""
    name = re.sub(r"[^a-z0-9._-]+", "-", component.lower())
    name = re.sub(r"[._-]{2,}", lambda run: run.group()[0], name).strip("._-")
    return name or "component"


def expand_design(
    factors: Mapping[str, Mapping[str, Any]],
    design: str,
    baseline: Mapping[str, str],
    listed: list[Mapping[str, str]] | None = None,
    resolution: int | None = None,
) -> list[dict[str, str]]:
    """The cells of a design, each as {factor: level} in factor order, without duplicates."""
    if design == "full":
        combos = itertools.product(*(list(levels) for levels in factors.values()))
        cells = [dict(zip(factors, combo, strict=True)) for combo in combos]
    elif design == "one-at-a-time":
        cells = [dict(baseline)]
        for factor, levels in factors.items():
            cells += [{**baseline, factor: level} for level in levels if level != baseline[factor]]
    elif design == "list":
        if not listed:
            raise ConfigError("config key 'cells': design 'list' needs at least one cell.")
        cells = []
        for index, chosen in enumerate(listed):
            _check_levels(factors, chosen, f"cells[{index}]")
            cells.append({factor: chosen.get(factor, baseline[factor]) for factor in factors})
    elif design in TWO_LEVEL:
        cells = _two_level_cells(factors, design, resolution)
    else:
        raise ConfigError(
            f"config key 'design': unknown design '{design}'; use {', '.join(DESIGNS)}."
        )
    unique: dict[str, dict[str, str]] = {}
    for levels in cells:
        unique.setdefault(cell_name(levels), levels)
    return list(unique.values())


def _two_level_cells(
    factors: Mapping[str, Mapping[str, Any]], design: str, resolution: int | None
) -> list[dict[str, str]]:
    """A fractional (2^(k-p), Box & Hunter 1961) or screening (Plackett & Burman 1946)
    design's runs: -1 is each factor's first level as written, +1 its second."""
    for factor, levels in factors.items():
        if len(levels) != 2:
            raise ConfigError(
                f"config key 'factors.{factor}': design '{design}' needs exactly two levels "
                f"per factor, '{factor}' has {len(levels)} ({', '.join(levels)}); split it "
                "into two-level factors or use design 'full'."
            )
    try:
        if design == "fractional":
            signs = fractional.fractional_signs(len(factors), int(resolution or 0))
        else:
            signs = fractional.screening_signs(len(factors))
    except ValueError as error:
        raise ConfigError(f"config key 'design': {error}.") from None
    names = [list(levels) for levels in factors.values()]
    return [
        {factor: names[i][int(row[i] > 0)] for i, factor in enumerate(factors)} for row in signs
    ]


def looks_of(rounds: list[list[int]]) -> list[int]:
    """Seeds per cell after each round (the looks of an adaptive study)."""
    return list(itertools.accumulate(len(seeds) for seeds in rounds))


def seed_rounds(
    seeds: list[int] | Mapping[str, int], baseline: str, cells: list[str]
) -> list[list[int]]:
    """The seeds of each round: a list is one round; ``{min, max, step}`` is seeds 1..min,
    then ``step`` more per round up to ``max`` (the last round may be shorter)."""
    if not isinstance(seeds, Mapping):
        return [list(seeds)]
    low, high, step = seeds["min"], seeds["max"], seeds["step"]
    if high < low:
        raise ConfigError(f"config key 'seeds': max ({high}) is below min ({low}).")
    if baseline not in cells:
        raise ConfigError(
            f"config key 'seeds': adaptive seeds compare every cell with the baseline cell "
            f"'{baseline}', which this design leaves out; give a list of seeds, or a "
            "design that includes the baseline (key 'baseline' chooses it)."
        )
    numbers = list(range(1, high + 1))
    return [numbers[:low]] + [numbers[n : n + step] for n in range(low, high, step)]
