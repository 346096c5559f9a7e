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
from pathlib import Path
from typing import Any

from ablate.data.labels import check_class_folders
from ablate.data.sources import check_source
from ablate.design import (
    ConfigError,
    baseline_levels,
    cell_name,
    check_design_keys,
    check_level_names,
    expand_design,
    leave_one_out,
    merge_shared,
    seed_rounds,
)
from ablate.schema import filler, schema_part, schema_problem, with_defaults
from ablate.settings import Cell, CellSettings, Checks, DatasetSettings, Resources, Study
from ablate.train.augmentation import AUGMENTATIONS, MIXINGS
from ablate.train.models import MODELS, fits_input
from ablate.train.optimizers import OPTIMIZERS

# with_defaults and schema_problem (ablate.schema) are read from here too (tests, benches).
__all__ = ["ConfigError", "check_settings", "dataset_settings", "resolve_study", "schema_problem",
           "with_defaults"]  # fmt: skip


def check_settings(
    settings: Mapping[str, Any], key: str, checked: dict[Any, Any] | None = None
) -> CellSettings:
    """Fill in the schema's defaults, then check against the schema and the registries.

    ``key`` is where the settings come from, for messages: 'base', 'factors.F.L' (a level's
    patch over the base) or "cell 'NAME'" (a combination of levels). ``checked``, shared by
    the calls for one study, remembers each settings key's values that passed (see
    ``_check_by_key``): a grid's cells differ in a few keys, so most are checked already.
    """
    if checked is not None and (fast := _check_by_key(settings, checked)) is not None:
        return fast
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


# The settings schema's top level, which _check_by_key checks itself: an object of known
# keys, some required; every key's value is checked by its own part of the schema alone.
_SETTINGS_TOP = {"$defs", "type", "additionalProperties", "required", "properties", "description"}
_FAILED = object()
_REGISTRIES = {"model": MODELS, "optimizer": OPTIMIZERS, "mixing": MIXINGS}


def _check_by_key(settings: Mapping[str, Any], checked: dict[Any, Any]) -> CellSettings | None:
    """``check_settings`` one key at a time, each distinct value of a key filled in and
    checked once per ``checked`` (values that passed are shared between cells, read-only).

    None when anything fails or cannot be remembered: ``check_settings`` then checks the
    whole as before, which gives the message. Only what holds across keys (a plateau
    reduction needs schedule 'constant') is checked per call.
    """
    schema = schema_part("$defs/settings")
    properties = schema["properties"]
    if (
        not set(schema) <= _SETTINGS_TOP
        or schema.get("additionalProperties") is not False
        or type(settings) is not dict
        or not set(settings) <= set(properties)
        or not set(schema.get("required", ())) <= set(settings)
    ):
        return None
    filled = {}
    for name, part in properties.items():
        if name not in settings and "default" not in part:
            return None
        value = settings.get(name, part.get("default"))
        try:
            memo = (name, _frozen(value))
            if memo not in checked:
                checked[memo] = _check_value(name, value)
        except TypeError:  # an unhashable value
            return None
        if checked[memo] is _FAILED:
            return None
        filled[name] = checked[memo]
    if filled["reduce_lr_on_plateau"] is not None and filled["schedule"]["name"] != "constant":
        return None
    return CellSettings.from_mapping(filled)


def _check_value(name: str, value: Any) -> Any:
    """A copy of settings key ``name``'s ``value`` with the schema's defaults filled in, or
    _FAILED if the schema or a registry refuses it."""
    value = copy.deepcopy(value)
    if next(filler(f"$defs/settings/properties/{name}").iter_errors(value), None) is not None:
        return _FAILED
    try:
        if name == "augmentation":
            for spec in value:
                AUGMENTATIONS.check(spec, name)
        elif name in _REGISTRIES and value is not None:
            _REGISTRIES[name].check(value, name)
    except ValueError:
        return _FAILED
    return value


def _frozen(value: Any) -> Any:
    """A hashable stand-in for a config value that tells apart whatever the schema tells
    apart: types (1, 1.0 and True; lists and tuples) as well as values."""
    if isinstance(value, Mapping):
        items = tuple(((type(k), k), _frozen(v)) for k, v in value.items())
        return type(value), items
    if isinstance(value, list | tuple):
        return type(value), tuple(_frozen(item) for item in value)
    hash(value)  # TypeError for anything else that cannot be remembered
    return type(value), value


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
    # One key order however the split was written (or left to its defaults): the params
    # of the split step compare by repr.
    split, labels = dict(sorted(split.items())), dict(sorted(labels.items()))
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
                f"config key 'dataset.split.{name}': by '{by}' takes {wanted[kinds[by]]}, "
                f"not {split[name]!r}."
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
                raise ConfigError(f"config key 'dataset.split.{name}': [start, stop] needs "
                                  "start < stop.")  # fmt: skip
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
    config = leave_one_out(with_defaults(config))  # validates: one line naming the key
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
    checked: dict[Any, Any] = {}  # each settings key's values that passed, for every cell
    check_input_size(check_settings(base, "base", checked), size, "base")
    for factor, levels in factors.items():
        for level, patch in levels.items():
            key = f"factors.{factor}.{level}"
            settings = check_settings(merge_shared(base, patch), key, checked)
            check_input_size(settings, size, key)
    cells = {}
    for levels in designed:
        settings = base
        for factor, level in levels.items():
            settings = merge_shared(settings, factors[factor][level])
        name = cell_name(levels)
        cells[name] = Cell(name, levels, check_settings(settings, f"cell {name}", checked))
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
