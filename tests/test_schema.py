"""ablate.schema: the one-line messages users read for a bad config, the defaults it fills
in, and the one key order it gives every settings mapping."""

from __future__ import annotations

import copy

import pytest

from ablate.design import ConfigError
from ablate.schema import _canonical_order, document, schema_part, schema_problem, with_defaults

CONFIG = {
    "study": "s",
    "dataset": {"source": "builtin:digits"},
    "base": {"model": {"name": "small_convnet"}},
}
BOOLEAN = " YAML reads unquoted on/off/yes/no as true/false: quote such names."
COMMAND_LINE = " On the command line write --config key=True (or False)."


def with_base(**settings):
    return {**CONFIG, "base": {**CONFIG["base"], **settings}}


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {**CONFIG, "bogus": 1},
            "key '(top level)': Additional properties are not allowed ('bogus' was "
            "unexpected). Allowed keys here: study, dataset, base, factors, design, "
            "resolution, cells, baseline, seeds, resources, checks, partial, mlflow.",
        ),
        # a required key names no allowed keys: the object's schema has properties too
        ({**CONFIG, "seeds": {"min": 2, "max": 8}}, "key 'seeds': 'step' is a required property."),
        (
            with_base(epochs=True),
            f"key 'base.epochs': True is not of type 'integer'.{BOOLEAN}{COMMAND_LINE}",
        ),
        (
            with_base(epochs="False"),  # --config base={...} reads it as text
            f"key 'base.epochs': 'False' is not of type 'integer'.{COMMAND_LINE}",
        ),
        (with_base(epochs="many"), "key 'base.epochs': 'many' is not of type 'integer'."),
        (with_base(epochs=1.5), "key 'base.epochs': 1.5 is not of type 'integer'."),
        (
            with_base(optimizer={"name": "adam", "learning_rate": "1E-3"}),
            "key 'base.optimizer.learning_rate': '1E-3' is not of type 'number'. YAML reads "
            "1E-3 as text: write a number in exponent form with a dot and a signed exponent, "
            "e.g. 1.0e-3 or 1.0e+3.",
        ),
        (
            {**CONFIG, "dataset": {"source": "url:https://example.org/a.zip", "sha256": 123}},
            "key 'dataset.sha256': 123 is not of type 'string', 'null'. YAML reads a checksum "
            "of only digits as a number: quote it.",
        ),
    ],
    ids=["unknown", "required", "boolean", "boolean-text", "text", "float", "exponent", "sha"],
)
def test_a_bad_config_gets_one_line_naming_the_key_and_only_the_hints_that_apply(config, message):
    assert schema_problem(config) == message


def test_a_part_of_the_schema_names_its_keys_from_that_part_on():
    assert schema_part(None) is document()
    part = schema_part("properties/dataset")
    assert part["$defs"] is document()["$defs"]  # references inside the part resolve
    assert part["properties"] is document()["properties"]["dataset"]["properties"]
    with pytest.raises(ConfigError) as error:
        with_defaults({"source": 5}, "properties/dataset")
    assert str(error.value) == "config key 'dataset.source': 5 is not of type 'string'."
    with pytest.raises(ConfigError) as error:
        with_defaults({"epochs": "x", "model": {"name": "small_convnet"}}, "$defs/settings")
    assert str(error.value) == "config key 'epochs': 'x' is not of type 'integer'."


def test_with_defaults_fills_a_copy_and_leaves_the_config_it_was_given_alone():
    config = copy.deepcopy(CONFIG)
    filled = with_defaults(config)
    assert config == CONFIG and list(config["dataset"]) == ["source"]
    assert filled["dataset"]["split"] == {"seed": 0} and filled["checks"]["futility"] == 0.05
    assert filled["base"]["model"] is not config["base"]["model"]


def test_keys_go_in_the_schemas_order_then_the_others_sorted_by_their_text():
    instance = {"b": 1, 2: "two", "name": "x", "a": 0}
    _canonical_order(instance, {"name": {}, "missing": {}})
    assert list(instance) == ["name", 2, "a", "b"]
