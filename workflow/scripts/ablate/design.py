"""From factors to cells: design expansion, patching and naming (no TensorFlow, no schema)."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Mapping
from typing import Any

BASE_CELL = "base"


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
        old = merged.get(key)
        if (
            isinstance(value, Mapping)
            and isinstance(old, Mapping)
            and value.get("name", old.get("name")) == old.get("name")
        ):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def cell_name(levels: Mapping[str, str]) -> str:
    """Readable, path-safe name: ``augmentation-geometric__regularization-dropout``."""
    if not levels:
        return BASE_CELL
    return "__".join(f"{factor}-{level}" for factor, level in levels.items())


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


def expand_design(
    factors: Mapping[str, Mapping[str, Any]],
    design: str,
    baseline: Mapping[str, str],
    listed: list[Mapping[str, str]] | None = None,
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
    else:
        raise ConfigError(
            f"config key 'design': unknown design '{design}'; use full, one-at-a-time or list."
        )
    unique: dict[str, dict[str, str]] = {}
    for levels in cells:
        unique.setdefault(cell_name(levels), levels)
    return list(unique.values())
