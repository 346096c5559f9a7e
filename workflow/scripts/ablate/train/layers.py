"""Small custom layers that saved models need; registered so that .keras files reload."""

from __future__ import annotations

from typing import Any

import keras

# Importing this module registers every ablate layer a saved model may hold.
from ablate.train.affine import RandomAffine

__all__ = ["ChannelReverse", "RandomAffine"]


@keras.saving.register_keras_serializable(package="ablate")
class ChannelReverse(keras.layers.Layer):
    """RGB <-> BGR: the channel order of caffe-style ImageNet weights (ResNet, VGG)."""

    def call(self, inputs: Any) -> Any:
        return keras.ops.flip(inputs, axis=-1)
