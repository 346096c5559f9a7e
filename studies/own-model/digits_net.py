"""An example of a model of your own for ablate (studies/own-model/config.yaml).

ablate calls ``build(input_shape, num_classes, **arguments)``, the arguments being the
other keys of the config's `model` mapping, and trains the keras.Model it returns. This
one is a small convnet whose blocks may end in a squeeze-and-excitation gate (Hu et al.
2018, "Squeeze-and-Excitation Networks"), the component the example study ablates.
"""

import keras
from keras import layers


def squeeze_excite(x, ratio, name):
    """Rescale each channel by a gate computed from the whole image's channel means."""
    channels = x.shape[-1]
    gate = layers.GlobalAveragePooling2D(name=f"{name}_squeeze")(x)
    gate = layers.Dense(max(channels // ratio, 1), activation="relu", name=f"{name}_reduce")(gate)
    gate = layers.Dense(channels, activation="sigmoid", name=f"{name}_gate")(gate)
    gate = layers.Reshape((1, 1, channels), name=f"{name}_reshape")(gate)
    return layers.Multiply(name=f"{name}_scale")([x, gate])


def build(input_shape, num_classes, width=16, squeeze_excitation=False, ratio=4):
    inputs = keras.Input(shape=input_shape, name="image")
    x = layers.Rescaling(1.0 / 255, name="rescale")(inputs)  # images arrive as 0-255
    for block, filters in enumerate((width, 2 * width), start=1):
        conv = layers.Conv2D(
            filters, 3, padding="same", activation="relu", name=f"block{block}_conv"
        )
        x = conv(x)
        if squeeze_excitation:
            x = squeeze_excite(x, ratio, f"block{block}_se")
        x = layers.MaxPooling2D(name=f"block{block}_pool")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(4 * width, activation="relu", name="dense")(x)
    # float32 output: under mixed precision (ablate's default on a GPU) softmax stays exact
    outputs = layers.Dense(num_classes, activation="softmax", dtype="float32", name="classes")(x)
    return keras.Model(inputs, outputs, name="digits_net")
