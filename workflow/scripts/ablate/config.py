"""Turn a study config into a resolved, checked ``ablate.settings.Study``.

Every mistake a config can hold is found here, at plan time, in one line naming the key:
schema violations, unknown registry names and arguments (models, augmentations, mixing,
optimizers), missing source folders, fewer than two class folders, impossible splits, an
image size too small for a model, level names that YAML reads as numbers or booleans.
Defaults come from the JSON schema alone. Nothing here imports TensorFlow: this runs every
time the Snakefile is parsed.
"""

from __future__ import annotations

import copy
import itertools
import math
import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from ablate.data.labels import check_class_folders
from ablate.data.sources import check_source
from ablate.design import (
    ConfigError,
    baseline_levels,
    cell_name,
    check_design_keys,
    check_level_names,
    deep_merge,
    expand_design,
    seed_rounds,
)
from ablate.settings import Cell, CellSettings, Checks, DatasetSettings, Resources, Study
from ablate.train.augmentation import AUGMENTATIONS, MIXINGS
from ablate.train.models import MODELS, fits_input
from ablate.train.optimizers import OPTIMIZERS

__all__ = ["ConfigError", "check_settings", "dataset_settings", "resolve_study"]

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "config.schema.yaml"


@cache
def _schema() -> dict[str, Any]:
    return yaml.safe_load(SCHEMA_PATH.read_text())


def _part(pointer: str | None) -> dict[str, Any]:
    """The whole schema, or the part at a JSON pointer such as '$defs/settings'."""
    schema = _schema()
    if pointer is None:
        return schema
    part = schema
    for name in pointer.split("/"):
        part = part[name]
    return {"$defs": schema["$defs"], **part}


@cache
def _validator(pointer: str | None = None) -> jsonschema.protocols.Validator:
    schema = _part(pointer)
    return jsonschema.validators.validator_for(schema)(schema)


@cache
def _filler(pointer: str | None = None) -> jsonschema.protocols.Validator:
    """A validator that also writes each missing key's default (inside any object that is
    given, nullable ones included) while it validates."""
    base = type(_validator(pointer))

    def fill_then_check(validator: Any, properties: Any, instance: Any, schema: Any) -> Any:
        if isinstance(instance, dict):
            for key, subschema in properties.items():
                if "default" in subschema:
                    instance.setdefault(key, copy.deepcopy(subschema["default"]))
        yield from base.VALIDATORS["properties"](validator, properties, instance, schema)

    return jsonschema.validators.extend(base, {"properties": fill_then_check})(_part(pointer))


def schema_problem(instance: Any, pointer: str | None = None, prefix: str = "") -> str | None:
    """The most relevant schema violation in one line, naming the key; None if valid."""
    error = jsonschema.exceptions.best_match(_validator(pointer).iter_errors(instance))
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
    if key.endswith("sha256") and isinstance(error.instance, int | float):
        hint += " YAML reads a checksum of only digits as a number: quote it."
    return f"key '{key}': {error.message}.{hint}"


def with_defaults(instance: Mapping[str, Any], pointer: str | None = None) -> dict[str, Any]:
    """A copy of ``instance`` with every default of the schema (part) filled in; raises
    ConfigError naming the key if it is not valid."""
    filled = copy.deepcopy(dict(instance))
    # One pass fills and validates (large grids check thousands of cells); the one-line
    # message is worked out only when something is wrong.
    if next(_filler(pointer).iter_errors(filled), None) is not None:
        prefix = pointer.rpartition("/")[2] if pointer and pointer.startswith("prop") else ""
        raise ConfigError(f"config {schema_problem(instance, pointer, prefix)}")
    return filled


def check_settings(settings: Mapping[str, Any], key: str) -> CellSettings:
    """Fill in the schema's defaults, then check against the schema and the registries.

    ``key`` is where the settings come from, for messages: 'base', 'factors.F.L' (a level's
    patch over the base) or "cell 'NAME'" (a combination of levels).
    """
    try:
        filled = with_defaults(settings, "$defs/settings")
    except ConfigError as error:
        problem = str(error).removeprefix("config key '")
        raise ConfigError(f"config key '{key}.{problem}") from None
    try:
        MODELS.check(filled["model"], f"{key}.model")
        for position, spec in enumerate(filled["augmentation"]):
            AUGMENTATIONS.check(spec, f"{key}.augmentation[{position}]")
        OPTIMIZERS.check(filled["optimizer"], f"{key}.optimizer")
        if filled["mixing"] is not None:
            MIXINGS.check(filled["mixing"], f"{key}.mixing")
    except ValueError as error:
        raise ConfigError(str(error)) from None
    schedule = filled["schedule"]["name"]
    if filled["reduce_lr_on_plateau"] is not None and schedule != "constant":
        raise ConfigError(
            f"config key '{key}.reduce_lr_on_plateau': needs schedule 'constant', not "
            f"'{schedule}': a plateau cannot lower a rate that a schedule sets."
        )
    return CellSettings.from_mapping(filled)


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


def dataset_settings(dataset: Mapping[str, Any]) -> DatasetSettings:
    """``dataset`` with the schema's defaults, labels and split resolved, and checked beyond
    what the schema says. Labels and split have defaults that depend on the source and on
    each other, so they are resolved here rather than in the schema."""
    dataset = with_defaults(dataset, "properties/dataset")
    kind = dataset["source"].partition(":")[0]
    if (kind == "url") != (dataset["sha256"] is not None):
        raise ConfigError(
            "config key 'dataset.sha256': a 'url:' source needs the SHA-256 of its archive "
            "(`sha256sum FILE`), and other sources take none."
        )
    labels = dict(dataset.get("labels") or (TFDS_LABELS if kind == "tfds" else {}))
    labels.setdefault("from", "folders")
    labels.setdefault("root", "")
    if labels["from"] == "split_lists":
        labels.setdefault("suffix", "")
    _check_labels(labels)
    split = dict(dataset["split"])  # the seed's default is the schema's
    split.setdefault("by", "lists" if labels["from"] in LISTED else "fractions")
    split["max_per_class"] = dataset["max_per_class"]
    _check_split(split, labels)
    split["max_pixels"] = dataset["max_pixels"]  # the split step inspects the images
    return DatasetSettings.from_mapping({**dataset, "labels": labels, "split": split})


def check_input_size(settings: CellSettings, image_size: list[int], key: str) -> None:
    """An image_size below the smallest input the model takes is an error naming both."""
    try:
        fits_input(settings.model, image_size, f"{key}.model")
    except ValueError as error:
        raise ConfigError(str(error)) from None


LISTED = ("split_lists", "split_folders")  # labels that bring the data set's own split


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
        if labels["from"] not in LISTED:
            raise ConfigError(
                f"{where}: by 'lists' needs dataset.labels from 'split_lists' or 'split_folders'."
            )
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


def runtime_minutes(resources: Resources, attempt: int) -> int:
    """Time limit of a train job's ``attempt`` (1 = first try): ``runtime`` minutes,
    times ``runtime_growth`` for every retry, so a job killed by its limit gets more."""
    return math.ceil(resources.runtime * resources.runtime_growth ** (attempt - 1))


def resolve_study(config: Mapping[str, Any], workdir: str | Path = ".") -> Study:
    """The study a config describes, every cell's settings resolved and checked.

    A mistake in ``base`` or in one factor level's patch is reported with that key; each
    combination of levels is checked too (some settings only clash in combination).
    """
    check_level_names(config)
    check_design_keys(config)
    config = with_defaults(config)  # validates too: one line naming the key if wrong
    dataset = dataset_settings(config["dataset"])
    try:
        check_source(dataset.as_dict(), "dataset.source", workdir=workdir)
        check_class_folders(dataset.source, dataset.labels, workdir)
    except ValueError as error:
        raise ConfigError(str(error)) from None
    factors = {name: dict(levels) for name, levels in config["factors"].items()}
    baseline = baseline_levels(factors, config["baseline"])
    designed = expand_design(
        factors, config["design"], baseline, config["cells"], config["resolution"]
    )
    base = config["base"]
    size = dataset.image_size
    check_input_size(check_settings(base, "base"), size, "base")
    for factor, levels in factors.items():
        for level, patch in levels.items():
            key = f"factors.{factor}.{level}"
            check_input_size(check_settings(deep_merge(base, patch), key), size, key)
    cells = {}
    for levels in designed:
        settings = base
        for factor, level in levels.items():
            settings = deep_merge(settings, factors[factor][level])
        name = cell_name(levels)
        cells[name] = Cell(name, levels, check_settings(settings, f"cell {name}"))
        check_input_size(cells[name].settings, size, f"cell {name}")
    rounds = seed_rounds(config["seeds"], cell_name(baseline), list(cells))
    return Study(
        name=config["study"],
        factors=list(factors),
        cells=cells,
        seeds=[seed for seeds in rounds for seed in seeds],
        rounds=rounds,
        baseline=cell_name(baseline),
        baseline_levels=baseline,
        dataset=dataset,
        resources=Resources.from_mapping(config["resources"]),
        checks=Checks.from_mapping(config["checks"]),
        partial=config["partial"],
    )
