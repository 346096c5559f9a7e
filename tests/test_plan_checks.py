"""Plan-time checks of a study config (no TensorFlow, no job): one class, an image size
too small for a model, level names that YAML reads as numbers or booleans."""

from __future__ import annotations

import pytest
import yaml

from ablate.config import ConfigError, resolve_study
from ablate.train.models import SMALLEST, build_model, smallest_input

BASE = {"model": {"name": "small_convnet", "filters": [4, 8, 16]}, "epochs": 1}


def config(**overrides) -> dict:
    return {"study": "s", "dataset": {"source": "builtin:digits"}, "base": BASE, **overrides}


def test_a_single_class_folder_is_refused_at_plan_time(tmp_path):
    (tmp_path / "images" / "cat").mkdir(parents=True)
    (tmp_path / "images" / ".cache").mkdir()  # hidden: not a class
    single = config(dataset={"source": "dir:images"})
    with pytest.raises(ConfigError) as error:
        resolve_study(single, tmp_path)
    message = str(error.value)
    assert message.startswith("config key 'dataset.source'") and "\n" not in message
    assert "at least two classes, found only 'cat'" in message
    (tmp_path / "images" / "dog").mkdir()
    assert resolve_study(single, tmp_path).dataset.source == "dir:images"


def test_an_image_size_below_the_models_smallest_input_names_both_keys():
    small = {"source": "builtin:digits", "image_size": [6, 6]}
    with pytest.raises(
        ConfigError, match=r"^config key 'dataset.image_size': \[6, 6\] is smaller than the "
        r"8x8 that 'base.model' \(small_convnet\) takes"
    ):  # fmt: skip
        resolve_study(config(dataset=small))
    factors = {"model": {"small": {}, "inception": {"model": {"name": "keras_app:InceptionV3"}}}}
    with pytest.raises(ConfigError, match=r"75x75 that 'factors.model.inception.model'"):
        resolve_study(config(dataset={**small, "image_size": [64, 64]}, factors=factors))
    assert resolve_study(config(dataset={**small, "image_size": [8, 8]})).cells


@pytest.mark.parametrize(
    ("spec", "smallest"),
    [
        ({"name": "small_convnet", "filters": [4, 8, 16]}, 8),
        ({"name": "small_convnet", "filters": [4, 8], "pool_last": False}, 2),
        ({"name": "small_convnet", "filters": [4, 4, 4], "padding": "valid"}, 22),
        ({"name": "cifar_cnn", "filters": [4, 8]}, 4),
        ({"name": "resnet20", "stem_filters": 4, "stage_filters": [4]}, 2),
        ({"name": "resnet20", "first_layer": "7x7_maxpool", "stage_filters": [4]}, 4),
    ],
)
def test_each_models_smallest_input_builds_and_one_less_does_not(spec, smallest):
    assert smallest_input(spec) == smallest
    build_model(spec, (smallest, smallest, 1), 2)
    if smallest > 1:
        with pytest.raises(ValueError):  # Keras: a negative or zero dimension
            build_model(spec, (smallest - 1, smallest - 1, 1), 2)
    assert set(SMALLEST) == {"small_convnet", "cifar_cnn", "resnet20"}  # every entry


@pytest.mark.parametrize(
    ("text", "key", "name"),
    [
        ("factors: {dropout: {0.5: {}, none: {}}}", "factors.dropout", "0.5"),
        ("factors: {switch: {on: {}, off: {}}}", "factors.switch", "on"),
        ("factors: {1: {a: {}}}", "factors", "1"),
        ("factors: {dropout: {'0.5': {}, none: {}}}\nbaseline: {dropout: 0.5}",
         "baseline.dropout", "0.5"),
        ("factors: {dropout: {'0.5': {}, none: {}}}\ndesign: list\ncells: [{dropout: 0.5}]",
         "cells[0].dropout", "0.5"),
    ],
)  # fmt: skip
def test_level_names_yaml_reads_as_numbers_or_booleans_get_the_hint_to_quote(text, key, name):
    with pytest.raises(ConfigError) as error:
        resolve_study(config(**yaml.safe_load(text)))
    message = str(error.value)
    assert message.startswith(f"config key '{key}': YAML reads the ") and "\n" not in message
    assert f"quote it as written, e.g. '{name}'" in message
    if key != "factors":  # quoted, the same config plans (a factor name '1' is not valid)
        quoted = text.replace("0.5", "'0.5'").replace("''", "'").replace("on:", "'on':")
        assert resolve_study(config(**yaml.safe_load(quoted.replace("off:", "'off':")))).cells
