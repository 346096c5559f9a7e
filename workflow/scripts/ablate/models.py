"""Model registry: builders take (input_shape, num_classes, *, options) and return a Keras model.

Keras is imported inside the builders so that listing names and checking arguments
(done when the Snakefile is parsed) stays free of TensorFlow.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ablate.registry import Registry, check_keyword_arguments

MODELS = Registry("model")


@MODELS.register()
def small_convnet(
    input_shape: Sequence[int],
    num_classes: int,
    *,
    filters: Sequence[int] = (32, 64, 128),
    kernel_size: int = 3,
    dense_units: int = 128,
    dropout: float = 0.0,
    batch_norm: bool = False,
) -> Any:
    """Conv-(BN)-ReLU-MaxPool blocks, Flatten, Dense, softmax: the S2/S5 family.

    `dropout` is applied before and after the hidden dense layer; with `batch_norm` the
    convolutions drop their bias (BatchNormalization's offset replaces it).
    """
    import keras
    from keras import layers

    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x = layers.Rescaling(1.0 / 255, name="rescale")(inputs)
    for block, width in enumerate(filters, start=1):
        x = layers.Conv2D(
            width, kernel_size, padding="same", use_bias=not batch_norm, name=f"conv{block}"
        )(x)
        if batch_norm:
            x = layers.BatchNormalization(name=f"bn{block}")(x)
        x = layers.Activation("relu", name=f"relu{block}")(x)
        x = layers.MaxPooling2D(name=f"pool{block}")(x)
    x = layers.Flatten(name="flatten")(x)
    if dropout:
        x = layers.Dropout(dropout, name="dropout_features")(x)
    x = layers.Dense(dense_units, activation="relu", name="hidden")(x)
    if dropout:
        x = layers.Dropout(dropout, name="dropout_hidden")(x)
    # float32 output keeps the softmax stable should mixed precision be switched on.
    outputs = layers.Dense(num_classes, activation="softmax", dtype="float32", name="classes")(x)
    return keras.Model(inputs, outputs, name="small_convnet")


def check_model_spec(spec: dict[str, Any]) -> None:
    """Raise ValueError for an unknown model name or argument, without building anything."""
    options = {k: v for k, v in spec.items() if k != "name"}
    builder = MODELS.get(spec["name"])
    check_keyword_arguments(builder, options, f"model '{spec['name']}'")


def build_model(spec: dict[str, Any], input_shape: Sequence[int], num_classes: int) -> Any:
    """Build the model named by ``spec['name']`` with the rest of ``spec`` as options."""
    check_model_spec(spec)
    options = {k: v for k, v in spec.items() if k != "name"}
    return MODELS.get(spec["name"])(input_shape, num_classes, **options)
