"""Model registry: builders take (input_shape, num_classes, *, options) and return a Keras model.

Keras is imported inside the builders so that listing names and checking arguments
(done when the Snakefile is parsed) stays free of TensorFlow.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ablate.registry import Registry
from ablate.train import user_models
from ablate.train.applications import (
    APPLICATIONS,
    PREFIX,
    application_name,
    keras_application,
    smallest_application_input,
)


class ModelRegistry(Registry):
    """The registered builders, ``keras_app:<Application>`` for every supported
    keras.applications model, and ``file:PATH:FUNCTION`` for a builder of the user's own
    (ablate.train.user_models); the two families are left out of ``names()``."""

    def __contains__(self, name: object) -> bool:
        if isinstance(name, str) and name.startswith(PREFIX):
            return name.removeprefix(PREFIX) in APPLICATIONS
        return user_models.is_own(name) or super().__contains__(name)

    def get(self, name: str) -> Any:
        if isinstance(name, str) and name.startswith(PREFIX):
            return functools.partial(keras_application, application_name(name))
        if user_models.is_own(name):
            return functools.partial(user_models.build, name)
        return super().get(name)

    def arguments(self, name: str) -> tuple[str, ...] | None:
        if user_models.is_own(name):  # read from the file each time: the user edits it
            own = user_models.arguments(name)
            return None if own is None else (*own, *self.handled)
        return super().arguments(name)

    def unknown_message(self, name: str) -> str:
        if isinstance(name, str) and name.startswith(PREFIX):
            try:
                application_name(name)
            except ValueError as error:
                return str(error)
        return super().unknown_message(name) + (
            f" Or {PREFIX}<name> for keras.applications ({', '.join(list(APPLICATIONS)[:4])}, "
            f"...), or {user_models.PREFIX}<file>:<function> for a builder of your own."
        )


# `remove` (ablate.train.removal) is taken by every model: build_model applies it.
MODELS = ModelRegistry("model", handled=("remove",))
# Model name -> smallest height and width it takes, from its builder arguments (the
# builder's defaults where the config leaves one out): each entry's spatial reductions.
SMALLEST: dict[str, Callable[..., int]] = {}


def smallest_input(spec: Mapping[str, Any]) -> int:
    """The smallest height and width the model of ``spec`` can take."""
    name = spec["name"]
    if name.startswith(PREFIX):
        return smallest_application_input(application_name(name))
    if user_models.is_own(name):
        return 1  # the user's builder knows its own limits; Keras says if it breaks
    return SMALLEST[name](**{key: value for key, value in spec.items() if key != "name"})


def fits_input(spec: Mapping[str, Any], image_size: Sequence[int], key: str) -> None:
    """Raise a one-line ValueError naming dataset.image_size and ``key`` (where the model
    is set) when the images are smaller than the model takes."""
    smallest = smallest_input(spec)
    if min(image_size) < smallest:
        raise ValueError(
            f"config key 'dataset.image_size': {list(image_size)} is smaller than the "
            f"{smallest}x{smallest} that '{key}' ({spec['name']}) takes; raise "
            "dataset.image_size or use fewer pooling blocks."
        )


def _smallest(steps: Sequence[tuple[str, int]]) -> int:
    """The smallest side that stays at least 1 pixel through ``steps``: ('conv', kernel)
    of a 'valid' convolution, ('pool', 0) of a 2x2 max-pool with floor division."""

    def fits(side: int) -> bool:
        for kind, kernel in steps:
            side = side - kernel + 1 if kind == "conv" else side // 2
            if side < 1:
                return False
        return True

    return next(side for side in range(1, 1 << 16) if fits(side))


def _small_convnet_smallest(
    filters: Sequence[int] = (32, 64, 128),
    kernel_size: int = 3,
    padding: str = "same",
    pool_last: bool = True,
    **_: Any,
) -> int:
    steps = []
    for block in range(1, len(filters) + 1):
        if padding == "valid":
            steps.append(("conv", kernel_size))
        if pool_last or block < len(filters):
            steps.append(("pool", 0))
    return _smallest(steps)


def _cifar_cnn_smallest(filters: Sequence[int] = (32, 64, 128), **_: Any) -> int:
    return _smallest([("pool", 0)] * len(filters))


def _resnet20_smallest(first_layer: str = "3x3", **_: Any) -> int:
    # Stage pools pad ('same'): only the stem's pools can shrink an image to nothing.
    return _smallest([("pool", 0)] * (2 if first_layer == "7x7_maxpool" else 1))


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
    padding: str = "same",
    pool_last: bool = True,
) -> Any:
    """Conv-(BN)-ReLU-MaxPool blocks, Flatten, Dense, softmax: the S2/S5 family.

    `dropout` is applied before and after the hidden dense layer (``dense_units: 0``
    leaves that layer out); with `batch_norm` the convolutions drop their bias
    (BatchNormalization's offset replaces it). S2's network is ``filters: [32, 64, 128,
    256, 256], padding: valid, pool_last: false, dense_units: 0``.
    """
    import keras
    from keras import layers

    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x = layers.Rescaling(1.0 / 255, name="rescale")(inputs)
    for block, width in enumerate(filters, start=1):
        x = layers.Conv2D(
            width, kernel_size, padding=padding, use_bias=not batch_norm, name=f"conv{block}"
        )(x)
        if batch_norm:
            x = layers.BatchNormalization(name=f"bn{block}")(x)
        x = layers.Activation("relu", name=f"relu{block}")(x)
        if pool_last or block < len(filters):
            x = layers.MaxPooling2D(name=f"pool{block}")(x)
    x = layers.Flatten(name="flatten")(x)
    if dropout:
        x = layers.Dropout(dropout, name="dropout_features")(x)
    if dense_units:
        x = layers.Dense(dense_units, activation="relu", name="hidden")(x)
        if dropout:
            x = layers.Dropout(dropout, name="dropout_hidden")(x)
    # float32 output keeps the softmax stable should mixed precision be switched on.
    outputs = layers.Dense(num_classes, activation="softmax", dtype="float32", name="classes")(x)
    return keras.Model(inputs, outputs, name="small_convnet")


@MODELS.register()
def cifar_cnn(
    input_shape: Sequence[int],
    num_classes: int,
    *,
    filters: Sequence[int] = (32, 64, 128),
    dense_units: int = 128,
    dropout: Sequence[float] | None = None,
    head_dropout: float = 0.0,
    batch_norm: bool = False,
    l2: float = 0.0,
    initializer: str = "glorot_uniform",
) -> Any:
    """S5's CIFAR-10 network: blocks of two 3x3 convs and a max-pool, Dense, softmax.

    v2 is the default; v3 sets ``dropout`` (one rate per block, e.g. [0.2, 0.3, 0.4]) and
    ``head_dropout``; v4 adds ``batch_norm`` after every convolution. Inputs are scaled
    to [-1, 1] as in the write-up.
    """
    import keras
    from keras import layers

    if dropout is not None and len(dropout) != len(filters):
        raise ValueError(f"cifar_cnn: dropout needs one rate per block ({len(filters)}).")
    regularizer = keras.regularizers.L2(l2) if l2 else None
    conv_options = {
        "padding": "same",
        "kernel_initializer": initializer,
        "kernel_regularizer": regularizer,
        "use_bias": not batch_norm,
    }
    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x = layers.Rescaling(1.0 / 127.5, offset=-1.0, name="rescale")(inputs)
    for block, width in enumerate(filters, start=1):
        for conv in (1, 2):
            x = layers.Conv2D(width, 3, name=f"block{block}_conv{conv}", **conv_options)(x)
            if batch_norm:
                x = layers.BatchNormalization(name=f"block{block}_bn{conv}")(x)
            x = layers.Activation("relu", name=f"block{block}_relu{conv}")(x)
        x = layers.MaxPooling2D(name=f"block{block}_pool")(x)
        if dropout is not None and dropout[block - 1]:
            x = layers.Dropout(dropout[block - 1], name=f"block{block}_dropout")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(
        dense_units,
        activation="relu",
        kernel_initializer=initializer,
        kernel_regularizer=regularizer,
        name="hidden",
    )(x)
    if head_dropout:
        x = layers.Dropout(head_dropout, name="head_dropout")(x)
    outputs = layers.Dense(num_classes, activation="softmax", dtype="float32", name="classes")(x)
    return keras.Model(inputs, outputs, name="cifar_cnn")


def _conv_bn(x: Any, filters: int, name: str, relu: bool = True) -> Any:
    from keras import layers

    x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    return layers.Activation("relu", name=f"{name}_relu")(x) if relu else x


def _residual_block(x: Any, filters: int, name: str, project: bool) -> Any:
    """Three 3x3 conv+BN; the shortcut is a conv+BN projection or the identity."""
    from keras import layers

    shortcut = x
    if project:
        shortcut = layers.Conv2D(filters, 1, use_bias=False, name=f"{name}_proj_conv")(x)
        shortcut = layers.BatchNormalization(name=f"{name}_proj_bn")(shortcut)
    y = _conv_bn(x, filters, f"{name}_a")
    y = _conv_bn(y, filters, f"{name}_b")
    y = _conv_bn(y, filters, f"{name}_c", relu=False)
    y = layers.Add(name=f"{name}_add")([y, shortcut])
    return layers.Activation("relu", name=f"{name}_out")(y)


@MODELS.register()
def resnet20(
    input_shape: Sequence[int],
    num_classes: int,
    *,
    first_layer: str = "3x3",
    stem_filters: int = 64,
    stage_filters: Sequence[int] = (128, 256, 512),
) -> Any:
    """S4's "ResNet20" as written there: a stem, then per stage a projection block, an
    identity block and a max-pool, global average pooling, softmax.

    ``first_layer``: '3x3' (3x3 conv, max-pool) or '7x7_maxpool' (7x7 conv and an extra
    max-pool, the write-up's weaker variant).
    """
    import keras
    from keras import layers

    if first_layer not in ("3x3", "7x7_maxpool"):
        raise ValueError(
            f"resnet20: first_layer must be '3x3' or '7x7_maxpool', not {first_layer!r}."
        )
    kernel = 3 if first_layer == "3x3" else 7
    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x = layers.Rescaling(1.0 / 255, name="rescale")(inputs)
    x = layers.Conv2D(stem_filters, kernel, padding="same", use_bias=False, name="stem_conv")(x)
    x = layers.BatchNormalization(name="stem_bn")(x)
    x = layers.Activation("relu", name="stem_relu")(x)
    x = layers.MaxPooling2D(name="stem_pool")(x)
    if first_layer == "7x7_maxpool":
        x = layers.MaxPooling2D(name="stem_extra_pool")(x)
    for stage, filters in enumerate(stage_filters, start=1):
        x = _residual_block(x, filters, f"stage{stage}_conv_block", project=True)
        x = _residual_block(x, filters, f"stage{stage}_identity_block", project=False)
        x = layers.MaxPooling2D(padding="same", name=f"stage{stage}_pool")(x)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = layers.Dense(num_classes, activation="softmax", dtype="float32", name="classes")(x)
    return keras.Model(inputs, outputs, name="resnet20")


SMALLEST.update(
    small_convnet=_small_convnet_smallest,
    cifar_cnn=_cifar_cnn_smallest,
    resnet20=_resnet20_smallest,
)


def model_builder(name: str) -> Callable[..., Any]:
    """The builder of a registered model or of a ``keras_app:NAME`` application."""
    return MODELS.get(name)


def check_model_spec(spec: Mapping[str, Any], key: str = "model") -> None:
    """``MODELS.check(spec, key)``, kept for callers of the older API."""
    MODELS.check(spec, key)


def build_model(spec: Mapping[str, Any], input_shape: Sequence[int], num_classes: int) -> Any:
    """Build the model named by ``spec['name']`` with the rest of ``spec`` as options, then
    remove the layers its ``remove`` names."""
    from ablate.train.removal import remove_layers

    MODELS.check(spec, "model")
    options = {k: v for k, v in spec.items() if k not in ("name", "remove")}
    model = model_builder(spec["name"])(input_shape, num_classes, **options)
    return remove_layers(model, spec.get("remove") or [])
