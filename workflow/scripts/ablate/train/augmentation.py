"""Augmentation registry: config names mapped to Keras 3 preprocessing layers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ablate.registry import Registry

# Each layer gets a seed derived from the run's seed: a config seed would give every seed
# of the study the same draws.
SEED_IS_ABLATES = {
    "seed": "ablate derives it from each run's seed, so that the study's seeds draw "
    "differently and a rerun draws the same; remove it"
}

AUGMENTATIONS = Registry("augmentation", reserved=SEED_IS_ABLATES)
# name -> (keras.layers class, its __init__ arguments without Layer's generic name, dtype,
# trainable, autocast, activity_regularizer). The class is resolved at build time and the
# arguments are written out, to keep Keras out of parsing; tests/test_registry_arguments.py
# keeps them equal to the installed Keras. Colour layers (hue, saturation, ...) need rgb
# images; all expect pixel values in [0, 255].
_FACTOR_RANGE = ("factor", "value_range", "data_format", "seed")
for _name, (_layer, _arguments) in {
    "random_flip": ("RandomFlip", ("mode", "seed", "data_format")),
    "random_rotation": ("RandomRotation", (
        "factor", "fill_mode", "interpolation", "seed", "fill_value", "data_format")),
    "random_zoom": ("RandomZoom", ("height_factor", "width_factor", "fill_mode",
        "interpolation", "seed", "fill_value", "data_format")),
    "random_translation": ("RandomTranslation", ("height_factor", "width_factor",
        "fill_mode", "interpolation", "seed", "fill_value", "data_format")),
    "random_shear": ("RandomShear", ("x_factor", "y_factor", "interpolation", "fill_mode",
        "fill_value", "data_format", "seed")),
    "random_perspective": ("RandomPerspective", (
        "factor", "scale", "interpolation", "fill_value", "seed", "data_format")),
    "random_elastic_transform": ("RandomElasticTransform", ("factor", "scale",
        "interpolation", "fill_mode", "fill_value", "value_range", "seed", "data_format")),
    "random_contrast": ("RandomContrast", ("factor", "value_range", "seed")),
    "random_brightness": ("RandomBrightness", ("factor", "value_range", "seed")),
    "random_hue": ("RandomHue", _FACTOR_RANGE),
    "random_saturation": ("RandomSaturation", _FACTOR_RANGE),
    "random_color_jitter": ("RandomColorJitter", ("value_range", "brightness_factor",
        "contrast_factor", "saturation_factor", "hue_factor", "seed", "data_format")),
    "random_color_degeneration": ("RandomColorDegeneration", _FACTOR_RANGE),
    "random_grayscale": ("RandomGrayscale", ("factor", "data_format", "seed")),
    "random_sharpness": ("RandomSharpness", _FACTOR_RANGE),
    "random_posterization": ("RandomPosterization", _FACTOR_RANGE),
    "random_invert": ("RandomInvert", ("factor", "value_range", "seed", "data_format")),
    "solarization": ("Solarization", (
        "addition_factor", "threshold_factor", "value_range", "seed")),
    "random_gaussian_blur": ("RandomGaussianBlur", (
        "factor", "kernel_size", "sigma", "value_range", "data_format", "seed")),
    "random_erasing": ("RandomErasing", (
        "factor", "scale", "fill_value", "value_range", "seed", "data_format")),
    "rand_augment": ("RandAugment", (
        "value_range", "num_ops", "factor", "interpolation", "seed", "data_format")),
    "aug_mix": ("AugMix", ("value_range", "num_chains", "chain_depth", "factor", "alpha",
        "all_ops", "interpolation", "seed", "data_format")),
}.items():  # fmt: skip
    AUGMENTATIONS.add(_name, _layer, _arguments)

# ablate's own layers (ablate.train.layers, which saved models import), listed the same way.
# random_affine: flip, rotation, zoom, translation and shear in one resampling (about 3x
# the chain of separate layers); its factors are the Keras layers' under a prefix.
OWN_LAYERS = {"random_affine": "RandomAffine"}
AUGMENTATIONS.add("random_affine", "RandomAffine", (
    "rotation_factor", "zoom_height_factor", "zoom_width_factor",
    "translation_height_factor", "translation_width_factor", "shear_x_factor",
    "shear_y_factor", "flip_mode", "fill_mode", "interpolation", "fill_value", "seed"))  # fmt: skip

# Batch mixing: pairs images within a batch and mixes their one-hot labels to match.
# `probability` (how often a batch is mixed) is ablate's own.
MIXINGS = Registry("mixing", handled=("probability",), reserved=SEED_IS_ABLATES)
MIXINGS.add("cutmix", "CutMix", ("factor", "seed", "data_format"))
MIXINGS.add("mixup", "MixUp", ("alpha", "data_format", "seed"))


def build_augmentation(specs: Sequence[Mapping[str, Any]], seed: int) -> Any | None:
    """A named ``keras.Sequential`` of the listed layers, or None when the list is empty.

    Each layer gets its own seed derived from ``seed`` so that runs are reproducible.
    """
    for position, spec in enumerate(specs):
        AUGMENTATIONS.check(spec, f"augmentation[{position}]")
    if not specs:
        return None
    import keras

    stack = []
    for position, spec in enumerate(specs):
        options = {k: v for k, v in spec.items() if k != "name"}
        layer_class = augmentation_class(spec["name"])
        try:
            stack.append(layer_class(seed=seed * 1000 + position, **options))
        except (TypeError, ValueError) as error:
            raise ValueError(
                f"augmentation[{position}] '{spec['name']}' (keras.layers.{layer_class.__name__}):"
                f" {error}"
            ) from error
    return keras.Sequential(stack, name="augmentation")


def with_augmentation(model: Any, augmentation: Any) -> Any:
    """``model`` behind the ``augmentation`` layers: one model that augments in training
    (``fit``) and, like Keras' preprocessing layers, passes images through unchanged at
    inference (``predict``, ``evaluate``, ``training=False``), so its checkpoint scores as
    ``model`` alone. (A bare ``model(x)`` augments: those layers default to training.)"""
    import keras

    inputs = keras.Input(shape=model.input_shape[1:], name="image")
    return keras.Model(inputs, model(augmentation(inputs)), name=model.name)


def augmentation_class(name: str) -> Any:
    """The layer class of augmentation ``name``: keras.layers' or ablate's own."""
    import keras

    from ablate.train import layers

    module = layers if name in OWN_LAYERS else keras.layers
    return getattr(module, AUGMENTATIONS.get(name))


def build_mixing(spec: Mapping[str, Any] | None, seed: int) -> Any | None:
    """A function (images, one-hot labels) -> mixed (images, labels), or None.

    ``spec`` is {name: cutmix | mixup, probability: p, ...layer arguments}; each batch is
    mixed with probability p, otherwise passed through unchanged.
    """
    if not spec:
        return None
    MIXINGS.check(spec, "mixing")
    import keras
    import tensorflow as tf

    options = {k: v for k, v in spec.items() if k not in ("name", "probability")}
    probability = float(spec["probability"])
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
