"""Augmentation registry: config names mapped to Keras 3 preprocessing layers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ablate.registry import Registry

AUGMENTATIONS = Registry("augmentation")
# The value is the keras.layers class; resolved at build time to keep Keras out of parsing.
# Colour layers (hue, saturation, ...) need rgb images; all expect pixel values in [0, 255].
for _name, _layer in {
    "random_flip": "RandomFlip",
    "random_rotation": "RandomRotation",
    "random_zoom": "RandomZoom",
    "random_translation": "RandomTranslation",
    "random_shear": "RandomShear",
    "random_perspective": "RandomPerspective",
    "random_elastic_transform": "RandomElasticTransform",
    "random_contrast": "RandomContrast",
    "random_brightness": "RandomBrightness",
    "random_hue": "RandomHue",
    "random_saturation": "RandomSaturation",
    "random_color_jitter": "RandomColorJitter",
    "random_color_degeneration": "RandomColorDegeneration",
    "random_grayscale": "RandomGrayscale",
    "random_sharpness": "RandomSharpness",
    "random_posterization": "RandomPosterization",
    "random_invert": "RandomInvert",
    "solarization": "Solarization",
    "random_gaussian_blur": "RandomGaussianBlur",
    "random_erasing": "RandomErasing",
    "rand_augment": "RandAugment",
    "aug_mix": "AugMix",
}.items():
    AUGMENTATIONS.add(_name, _layer)

# Batch mixing: pairs images within a batch and mixes their one-hot labels to match.
MIXINGS = Registry("mixing")
MIXINGS.add("cutmix", "CutMix")
MIXINGS.add("mixup", "MixUp")


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


def build_mixing(spec: dict[str, Any] | None, seed: int) -> Any | None:
    """A function (images, one-hot labels) -> mixed (images, labels), or None.

    ``spec`` is {name: cutmix | mixup, probability: p, ...layer arguments}; each batch is
    mixed with probability p, otherwise passed through unchanged.
    """
    if not spec:
        return None
    import keras
    import tensorflow as tf

    options = {k: v for k, v in spec.items() if k not in ("name", "probability")}
    probability = float(spec.get("probability", 1.0))
    layer_class = getattr(keras.layers, MIXINGS.get(spec["name"]))
    try:
        layer = layer_class(seed=seed, **options)
    except (TypeError, ValueError) as error:
        name = f"mixing '{spec['name']}' (keras.layers.{layer_class.__name__})"
        raise ValueError(f"{name}: {error}") from error
    generator = tf.random.Generator.from_seed(seed)

    def mix(images: Any, labels: Any) -> tuple[Any, Any]:
        def mixed() -> tuple[Any, Any]:
            out = layer({"images": images, "labels": labels}, training=True)
            return out["images"], tf.cast(out["labels"], labels.dtype)

        return tf.cond(generator.uniform(()) < probability, mixed, lambda: (images, labels))

    return mix
