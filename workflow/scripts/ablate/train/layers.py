"""Small custom layers that saved models need; registered so that .keras files reload."""

from __future__ import annotations

from typing import Any

import keras


@keras.saving.register_keras_serializable(package="ablate")
class ChannelReverse(keras.layers.Layer):
    """RGB <-> BGR: the channel order of caffe-style ImageNet weights (ResNet, VGG)."""

    def call(self, inputs: Any) -> Any:
        return keras.ops.flip(inputs, axis=-1)
