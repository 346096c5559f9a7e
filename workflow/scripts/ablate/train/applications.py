"""``keras_app:NAME`` models: a keras.applications base, its input preprocessing, a new head.

Keras downloads ImageNet weights on first use. Offline machines (and cluster nodes) must
have them in Keras' cache already, so a missing file fails before training, saying where
Keras looks and how to fetch it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ablate.registry import did_you_mean

PREFIX = "keras_app:"

# Application -> how its ImageNet weights expect pixels (keras.applications' own modes):
# caffe: BGR minus the ImageNet mean; tf: [-1, 1]; torch: [0, 1] then ImageNet z-score;
# included: the model rescales by itself.
APPLICATIONS = {
    "ResNet50": "caffe", "ResNet101": "caffe", "ResNet152": "caffe",
    "VGG16": "caffe", "VGG19": "caffe",
    "ResNet50V2": "tf", "ResNet101V2": "tf", "ResNet152V2": "tf",
    "InceptionV3": "tf", "InceptionResNetV2": "tf", "Xception": "tf",
    "MobileNet": "tf", "MobileNetV2": "tf",
    "DenseNet121": "torch", "DenseNet169": "torch", "DenseNet201": "torch",
    "MobileNetV3Small": "included", "MobileNetV3Large": "included",
    "EfficientNetB0": "included", "EfficientNetB1": "included", "EfficientNetB2": "included",
    "EfficientNetB3": "included", "EfficientNetB4": "included", "EfficientNetV2B0": "included",
    "EfficientNetV2S": "included", "ConvNeXtTiny": "included", "ConvNeXtSmall": "included",
}  # fmt: skip


# Smallest height and width each application takes without its top (keras.applications'
# own `min_size` checks); the others take 32.
SMALLEST_INPUT = {"InceptionV3": 75, "InceptionResNetV2": 75, "Xception": 71}


def smallest_application_input(application: str) -> int:
    return SMALLEST_INPUT.get(application, 32)


def application_name(model_name: str) -> str:
    """'keras_app:ResNet50' -> 'ResNet50', or ValueError listing the supported ones."""
    name = model_name.removeprefix(PREFIX)
    if name not in APPLICATIONS:
        raise ValueError(
            f"unknown keras.applications model '{name}'.{did_you_mean(name, APPLICATIONS)} "
            f"Supported: {', '.join(APPLICATIONS)}."
        )
    return name


def keras_cache() -> Path:
    """Where Keras keeps downloads: $KERAS_HOME, else ~/.keras."""
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))


@contextlib.contextmanager
def cached_weights_only(application: str) -> Iterator[None]:
    """Make any weight download inside the block fail with instructions instead."""
    from keras.src.utils import file_utils

    download = file_utils.get_file

    def get_cached(fname: str | None = None, origin: str | None = None, **kwargs: Any) -> str:
        folder = Path(kwargs.get("cache_dir") or keras_cache()) / kwargs.get(
            "cache_subdir", "datasets"
        )
        if fname and (folder / fname).is_file():
            return download(fname, origin, **kwargs)
        raise FileNotFoundError(
            f"ImageNet weights of {application} are not in Keras' cache: {folder / str(fname)} "
            f"is missing, and ablate does not download during training. Fetch them once on a "
            f'machine with internet: python -c "import keras; keras.applications.'
            f"{application}(include_top=False, weights='imagenet')\", then copy "
            f"{keras_cache()}/models/ to this machine (or point KERAS_HOME at a copy). "
            f"Origin: {origin}"
        )

    file_utils.get_file = get_cached
    try:
        yield
    finally:
        file_utils.get_file = download


def keras_application(
    application: str,
    input_shape: Sequence[int],
    num_classes: int,
    *,
    weights: str = "imagenet",
    fine_tune_from: str | None = None,
    head_dropout: float = 0.0,
) -> Any:
    """Base without its top, global average pooling, optional dropout, Dense softmax.

    ``weights``: 'imagenet' or 'none'. With ImageNet weights the base is frozen unless
    ``fine_tune_from`` names a base layer: it and every later layer train. Without
    weights everything trains.
    """
    import keras
    from keras import layers

    from ablate.train.layers import ChannelReverse

    if weights not in ("imagenet", "none"):
        raise ValueError(f"keras_app:{application}: weights must be 'imagenet' or 'none'.")
    if input_shape[-1] != 3:
        raise ValueError(f"keras_app:{application} needs rgb images (dataset.color_mode: rgb).")
    build = getattr(keras.applications, application)
    options = {"include_top": False, "input_shape": tuple(input_shape), "pooling": "avg"}
    if weights == "none":
        base = build(weights=None, **options)
    else:
        with cached_weights_only(application):
            base = build(weights="imagenet", **options)
        names = [layer.name for layer in base.layers]
        if fine_tune_from is not None and fine_tune_from not in names:
            raise ValueError(
                f"keras_app:{application}: no layer '{fine_tune_from}' to fine-tune from; "
                f"its layers include {', '.join(names[-8:])}."
            )
        start = names.index(fine_tune_from) if fine_tune_from else len(names)
        for layer in base.layers[:start]:
            layer.trainable = False
        # Keras' fine-tuning advice: BatchNormalization keeps its ImageNet statistics (a
        # non-trainable BatchNormalization runs in inference mode, whatever `training`).
        for layer in base.layers[start:]:
            if isinstance(layer, layers.BatchNormalization):
                layer.trainable = False

    inputs = keras.Input(shape=tuple(input_shape), name="image")
    mode = APPLICATIONS[application]
    x = inputs
    if mode == "caffe":
        x = ChannelReverse(name="rgb_to_bgr")(x)
        x = layers.Normalization(mean=[103.939, 116.779, 123.68], variance=[1, 1, 1])(x)
    elif mode == "tf":
        x = layers.Rescaling(1.0 / 127.5, offset=-1.0, name="rescale")(x)
    elif mode == "torch":
        x = layers.Rescaling(1.0 / 255, name="rescale")(x)
        x = layers.Normalization(
            mean=[0.485, 0.456, 0.406], variance=[0.229**2, 0.224**2, 0.225**2]
        )(x)
    # Frozen layers' BatchNormalization must keep its ImageNet statistics.
    x = base(x, training=False if weights == "imagenet" else None)
    if head_dropout:
        x = layers.Dropout(head_dropout, name="head_dropout")(x)
    outputs = layers.Dense(num_classes, activation="softmax", dtype="float32", name="classes")(x)
    return keras.Model(inputs, outputs, name=f"keras_app_{application}")
