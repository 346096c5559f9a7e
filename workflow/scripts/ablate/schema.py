"""The config's JSON schema (workflow/schemas/config.schema.yaml), the one place defaults
live: its parts, a validator that fills in the defaults while it checks, and the one-line
message naming the key of what is wrong. ``ablate.config`` checks whole studies with it.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from ablate.design import ConfigError

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "config.schema.yaml"


@cache
def document() -> dict[str, Any]:
    return yaml.safe_load(SCHEMA_PATH.read_text())


def schema_part(pointer: str | None) -> dict[str, Any]:
    """The whole schema, or the part at a JSON pointer such as '$defs/settings'."""
    schema = document()
    if pointer is None:
        return schema
    part = schema
    for name in pointer.split("/"):
        part = part[name]
    return {"$defs": schema["$defs"], **part}


@cache
def _validator(pointer: str | None = None) -> jsonschema.protocols.Validator:
    schema = schema_part(pointer)
    return jsonschema.validators.validator_for(schema)(schema)


@cache
def filler(pointer: str | None = None) -> jsonschema.protocols.Validator:
    """A validator that also writes each missing key's default (inside any object that is
    given, nullable ones included) while it validates."""
    base = type(_validator(pointer))

    def fill_then_check(validator: Any, properties: Any, instance: Any, schema: Any) -> Any:
        if isinstance(instance, dict):
            for key, subschema in properties.items():
                if "default" in subschema:
                    instance.setdefault(key, copy.deepcopy(subschema["default"]))
            _canonical_order(instance, properties)
        yield from base.VALIDATORS["properties"](validator, properties, instance, schema)

    return jsonschema.validators.extend(base, {"properties": fill_then_check})(schema_part(pointer))


def _canonical_order(instance: dict[str, Any], properties: Mapping[str, Any]) -> None:
    """Put an object's keys in one order, whatever order the config wrote them in: the
    schema's, then any others sorted. Snakemake compares params by their repr, so the same
    settings in another order would otherwise rerun every job that takes them. (Only
    objects with named properties: the order of factors, levels and cells is the design's.)"""
    order = [key for key in properties if key in instance]
    order += sorted((key for key in instance if key not in properties), key=str)
    if order != list(instance):
        reordered = {key: instance[key] for key in order}
        instance.clear()
        instance.update(reordered)


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
    if error.validator == "type" and _reads_as_number(error.instance):
        hint += (f" YAML reads {error.instance} as text: write a number in exponent form "
                 "with a dot and a signed exponent, e.g. 1.0e-3 or 1.0e+3.")  # fmt: skip
    if key.endswith("sha256") and isinstance(error.instance, int | float):
        hint += " YAML reads a checksum of only digits as a number: quote it."
    return f"key '{key}': {error.message}.{hint}"


def _reads_as_number(value: Any) -> bool:
    """Whether text is a number in exponent form, which PyYAML (YAML 1.1) reads as text
    unless it has a dot and a signed exponent: 1e-3 and 1.0e3 are text, 1.0e-3 is not."""
    exponent_form = r"[-+]?[0-9.]+[eE][-+]?[0-9]+"
    return isinstance(value, str) and re.fullmatch(exponent_form, value) is not None


def with_defaults(instance: Mapping[str, Any], pointer: str | None = None) -> dict[str, Any]:
    """A copy of ``instance`` with every default of the schema (part) filled in; raises
    ConfigError naming the key if it is not valid."""
    filled = copy.deepcopy(dict(instance))
    # One pass fills and validates (large grids check thousands of cells); the one-line
    # message is worked out only when something is wrong.
    if next(filler(pointer).iter_errors(filled), None) is not None:
        prefix = pointer.rpartition("/")[2] if pointer and pointer.startswith("prop") else ""
        raise ConfigError(f"config {schema_problem(instance, pointer, prefix)}")
    return filled
