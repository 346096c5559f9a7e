"""Augmentation registry: config names mapped to Keras 3 preprocessing layers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ablate.registry import Registry

AUGMENTATIONS = Registry("augmentation")
# The value is the keras.layers class; resolved at build time to keep Keras out of parsing.
for _name, _layer in {
    "random_flip": "RandomFlip",
    "random_rotation": "RandomRotation",
    "random_zoom": "RandomZoom",
    "random_translation": "RandomTranslation",
    "random_contrast": "RandomContrast",
    "random_brightness": "RandomBrightness",
}.items():
    AUGMENTATIONS.add(_name, _layer)


def build_augmentation(specs: Sequence[dict[str, Any]], seed: int) -> Any | None:
    """A named ``keras.Sequential`` of the listed layers, or None when the list is empty.

    Each layer gets its own seed derived from ``seed`` so that runs are reproducible.
    """
    if not specs:
        return None
    import keras

    stack = []
    for position, spec in enumerate(specs):
        options = {k: v for k, v in spec.items() if k != "name"}
        layer_class = getattr(keras.layers, AUGMENTATIONS.get(spec["name"]))
        options.setdefault("seed", seed * 1000 + position)
        try:
            stack.append(layer_class(**options))
        except (TypeError, ValueError) as error:
            raise ValueError(
                f"augmentation[{position}] '{spec['name']}' (keras.layers.{layer_class.__name__}):"
                f" {error}"
            ) from error
    return keras.Sequential(stack, name="augmentation")
