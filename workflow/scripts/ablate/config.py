"""Turn a validated study config into cells: design expansion, patching, naming, checks.

Nothing here imports TensorFlow: this runs every time the Snakefile is parsed.
"""

from __future__ import annotations

import copy
import itertools
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from ablate.train.augmentation import AUGMENTATIONS, MIXINGS
from ablate.train.models import check_model_spec
from ablate.train.optimizers import OPTIMIZERS

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "config.schema.yaml"
BASE_CELL = "base"


class ConfigError(ValueError):
    """A study config that is well-formed YAML but cannot describe a study."""


@dataclass(frozen=True)
class Cell:
    name: str
    levels: dict[str, str]  # factor -> level, in factor order
    settings: dict[str, Any]  # the fully resolved training setup


@dataclass(frozen=True)
class Study:
    name: str
    factors: list[str]
    cells: dict[str, Cell]  # cell name -> cell, in design order
    seeds: list[int]
    baseline: str  # name of the baseline cell (a list design may leave it out)
    baseline_levels: dict[str, str]
    dataset: dict[str, Any]  # dataset config with labels and split resolved


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


@cache
def _validator(definition: str | None = None) -> jsonschema.protocols.Validator:
    """Validator of the whole config schema, or of one of its ``$defs``."""
    schema = yaml.safe_load(SCHEMA_PATH.read_text())
    if definition is not None:
        schema = {"$defs": schema["$defs"], "$ref": f"#/$defs/{definition}"}
    return jsonschema.validators.validator_for(schema)(schema)


def schema_problem(instance: Any, definition: str | None = None, prefix: str = "") -> str | None:
    """The most relevant schema violation in one line, naming the key; None if valid."""
    error = jsonschema.exceptions.best_match(_validator(definition).iter_errors(instance))
    if error is None:
        return None
    key = ".".join([prefix, *map(str, error.absolute_path)]).strip(".") or "(top level)"
    hint = ""
    if error.validator == "additionalProperties" and "properties" in error.schema:
        hint = f" Allowed keys here: {', '.join(error.schema['properties'])}."
    if isinstance(error.instance, bool):
        hint += " YAML reads unquoted on/off/yes/no as true/false: quote such names."
    if error.validator == "type" and str(error.instance).lower() in ("true", "false"):
        hint += " On the command line write --config key=True (or False)."
    return f"key '{key}': {error.message}.{hint}"


@cache
def _defaults_filler() -> jsonschema.protocols.Validator:
    """Validator of ``$defs/settings`` that also writes each missing key's default."""
    base = type(_validator("settings"))

    def fill_then_check(validator: Any, properties: Any, instance: Any, schema: Any) -> Any:
        if isinstance(instance, dict):
            for key, subschema in properties.items():
                if "default" in subschema:
                    instance.setdefault(key, copy.deepcopy(subschema["default"]))
        yield from base.VALIDATORS["properties"](validator, properties, instance, schema)

    filler = jsonschema.validators.extend(base, {"properties": fill_then_check})
    return filler(_validator("settings").schema)


def check_settings(settings: dict[str, Any], where: str) -> None:
    """Fill in schema defaults, then validate against the schema and the registries.

    Defaults are filled after patching, so every cell's settings (and its params.yaml)
    spell out every key, whatever its levels patched.
    """
    # One pass fills the defaults and validates (large grids check thousands of cells); the
    # one-line message is worked out only for settings that are wrong.
    if next(_defaults_filler().iter_errors(settings), None) is not None:
        raise ConfigError(f"{where}, {schema_problem(settings, 'settings')}")
    try:
        check_model_spec(settings["model"])
        for position, spec in enumerate(settings.get("augmentation", [])):
            if spec["name"] not in AUGMENTATIONS:
                raise ValueError(
                    f"augmentation[{position}]: " + AUGMENTATIONS.unknown_message(spec["name"])
                )
        OPTIMIZERS.get(settings["optimizer"]["name"])  # defaults are filled in by now
        if settings["mixing"] is not None:
            MIXINGS.get(settings["mixing"]["name"])
        schedule = settings["schedule"]["name"]
        if settings["reduce_lr_on_plateau"] is not None and schedule != "constant":
            raise ValueError(
                f"reduce_lr_on_plateau needs schedule 'constant', not '{schedule}': "
                "a plateau cannot lower a rate that a schedule sets."
            )
    except ValueError as error:
        raise ConfigError(f"{where}: {error}") from None


FRACTIONS = {"train": 0.7, "validation": 0.15, "test": 0.15}
SPLIT_NAMES = tuple(FRACTIONS)
# What the tfds: fetcher writes (ablate/tfds_export.py): images/<class>/, splits/<split>.txt.
TFDS_LABELS = {
    "from": "split_lists",
    "root": "images",
    "lists": {
        "train": "splits/train.txt",
        "validation": "splits/validation.txt",  # empty when the data set has none
        "test": "splits/test.txt",
    },
}


def dataset_settings(dataset: Mapping[str, Any]) -> dict[str, Any]:
    """``dataset`` with labels and split resolved and checked beyond what the schema says."""
    kind = dataset["source"].partition(":")[0]
    if (kind == "url") != ("sha256" in dataset):
        raise ConfigError(
            "config key 'dataset.sha256': a 'url:' source needs the SHA-256 of its archive "
            "(`sha256sum FILE`), and other sources take none."
        )
    labels = dict(dataset.get("labels") or (TFDS_LABELS if kind == "tfds" else {}))
    labels.setdefault("from", "folders")
    labels.setdefault("root", "")
    _check_labels(labels)
    split = {"seed": 0, **dataset.get("split", {})}
    split.setdefault("by", "lists" if labels["from"] == "split_lists" else "fractions")
    split["max_per_class"] = dataset.get("max_per_class")
    _check_split(split, labels)
    return {"tfds_data_dir": None, "decode": "once", **dataset, "labels": labels, "split": split}


def _check_labels(labels: dict[str, Any]) -> None:
    needs = {"file_name": "pattern", "split_lists": "lists"}.get(labels["from"])
    if needs and needs not in labels:
        raise ConfigError(
            f"config key 'dataset.labels.{needs}': needed with from: {labels['from']}."
        )
    if labels["from"] == "file_name":
        try:
            pattern = re.compile(labels["pattern"])
        except re.error as error:
            raise ConfigError(f"config key 'dataset.labels.pattern': {error}.") from None
        if "class" not in pattern.groupindex:
            raise ConfigError(
                "config key 'dataset.labels.pattern': needs a group named class, as in "
                r"'(?P<class>cat|dog)\.\d+\.jpg'."
            )


def _check_split(split: dict[str, Any], labels: Mapping[str, Any]) -> None:
    by, where = split["by"], "config key 'dataset.split'"
    kinds = {"fractions": float, "counts": int, "ranges": list, "lists": float}
    if by == "fractions":
        for name in SPLIT_NAMES:
            split.setdefault(name, FRACTIONS[name])
    elif by == "lists":
        if labels["from"] != "split_lists":
            raise ConfigError(f"{where}: by 'lists' needs dataset.labels from 'split_lists'.")
        if {"train", "test"} & set(split):
            raise ConfigError(f"{where}: by 'lists' takes its train and test from the lists.")
        split.setdefault("validation", FRACTIONS["validation"])
    elif missing := [name for name in SPLIT_NAMES if name not in split]:
        raise ConfigError(f"{where}: by '{by}' needs {', '.join(missing)}.")
    for name in SPLIT_NAMES:
        if name in split and type(split[name]) is not kinds[by]:
            wanted = {float: "a share in (0, 1)", int: "a count", list: "[start, stop]"}
            raise ConfigError(
                f"{where}.{name}: by '{by}' takes {wanted[kinds[by]]}, not {split[name]!r}."
            )
    if by in ("counts", "ranges") and split["max_per_class"] is not None:
        raise ConfigError(f"config key 'dataset.max_per_class': not with split by '{by}'.")
    if by == "fractions" and abs(sum(split[name] for name in SPLIT_NAMES) - 1.0) > 1e-6:
        total = sum(split[name] for name in SPLIT_NAMES)
        raise ConfigError(f"{where}: train + validation + test must be 1, not {total:g}.")
    if by == "ranges":
        ranges = sorted((split[name], name) for name in SPLIT_NAMES)
        for (start, stop), name in ranges:
            if start >= stop:
                raise ConfigError(f"{where}.{name}: [start, stop] needs start < stop.")
        for ((_, stop), first), ((start, _), second) in itertools.pairwise(ranges):
            if start < stop:
                raise ConfigError(f"{where}: ranges of {first} and {second} overlap.")


def runtime_minutes(resources: Mapping[str, Any], attempt: int) -> int:
    """Time limit of a train job's ``attempt`` (1 = first try): ``runtime`` minutes,
    times ``runtime_growth`` for every retry, so a job killed by its limit gets more."""
    return math.ceil(resources["runtime"] * resources["runtime_growth"] ** (attempt - 1))


def resolve_study(config: Mapping[str, Any]) -> Study:
    """Cells with fully resolved settings from a schema-validated config (defaults filled in)."""
    dataset = dataset_settings(config["dataset"])
    factors = {name: dict(levels) for name, levels in config.get("factors", {}).items()}
    baseline = baseline_levels(factors, config.get("baseline", {}))
    designed = expand_design(factors, config.get("design", "full"), baseline, config.get("cells"))
    check_settings(copy.deepcopy(config["base"]), "config key 'base'")
    cells = {}
    for levels in designed:
        settings = config["base"]
        for factor, level in levels.items():
            settings = deep_merge(settings, factors[factor][level])
        name = cell_name(levels)
        check_settings(settings, f"cell '{name}' (factor levels patch 'base')")
        cells[name] = Cell(name=name, levels=levels, settings=settings)
    return Study(
        name=config["study"],
        factors=list(factors),
        cells=cells,
        seeds=list(config.get("seeds", [1])),
        baseline=cell_name(baseline),
        baseline_levels=baseline,
        dataset=dataset,
    )
