"""RandomAffine: flip, rotation, zoom, translation and shear as one resampling per image.

Keras' geometric layers (RandomRotation, RandomZoom, RandomTranslation, RandomShear) each
resample the whole image: the default study's rotation, zoom and translation are three
bilinear passes. Each pass maps an output pixel to a source point by an affine matrix, so
the product of the matrices maps it straight to where the chain would have looked: one
pass gives the chain's image up to interpolation, and away from the edges (where the
chain fills each intermediate image, and this layer fills only once).

Each part is drawn per image from the distribution of the Keras layer with the same
factor (Keras 3.15) and composed in the order flip, rotation, zoom, translation, shear,
as the separate layers listed in that order would apply them. Active in training only:
``training=False`` (``predict``, ``evaluate``) returns the input unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import keras
from keras import ops

FILL_MODES = ("reflect", "wrap", "constant", "nearest")
INTERPOLATIONS = ("nearest", "bilinear")
FLIP_MODES = (None, "horizontal", "vertical", "horizontal_and_vertical")
Factor = float | Sequence[float]


def factor_range(value: Factor | None, name: str, low: float = -1.0) -> tuple[float, float]:
    """(lower, upper) of a Keras factor: x means [-x, x], a pair is its own range."""
    if value is None:
        return (0.0, 0.0)
    if isinstance(value, int | float):
        if abs(value) > 1.0:
            raise ValueError(f"RandomAffine: {name} must lie in [-1, 1], not {value!r}.")
        return (-abs(float(value)), abs(float(value)))
    if len(value) != 2:
        raise ValueError(f"RandomAffine: {name} must be a number or a pair, not {value!r}.")
    lower, upper = sorted(float(v) for v in value)
    if lower < low or upper > 1.0:
        raise ValueError(f"RandomAffine: {name}'s pair must lie in [{low:g}, 1], not {value!r}.")
    return (lower, upper)


@keras.saving.register_keras_serializable(package="ablate")
class RandomAffine(keras.layers.Layer):
    """One random affine transform per image, one resampling.

    Factors as in the Keras layers: ``rotation_factor`` a fraction of a full turn
    (RandomRotation's ``factor``); ``zoom_*`` positive zooms out (RandomZoom; a missing
    width keeps the aspect ratio); ``translation_*`` a fraction of the height or width
    (RandomTranslation); ``shear_*`` RandomShear's factors (about the top-left corner,
    shared random sign); ``flip_mode`` RandomFlip's mode or None.
    """

    def __init__(
        self,
        rotation_factor: Factor = 0.0,
        zoom_height_factor: Factor = 0.0,
        zoom_width_factor: Factor | None = None,
        translation_height_factor: Factor = 0.0,
        translation_width_factor: Factor = 0.0,
        shear_x_factor: Factor = 0.0,
        shear_y_factor: Factor = 0.0,
        flip_mode: str | None = None,
        fill_mode: str = "reflect",
        interpolation: str = "bilinear",
        fill_value: float = 0.0,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.factors = {
            "rotation_factor": rotation_factor,
            "zoom_height_factor": zoom_height_factor,
            "zoom_width_factor": zoom_width_factor,
            "translation_height_factor": translation_height_factor,
            "translation_width_factor": translation_width_factor,
            "shear_x_factor": shear_x_factor,
            "shear_y_factor": shear_y_factor,
        }
        self.rotation = factor_range(rotation_factor, "rotation_factor")
        self.zoom_height = factor_range(zoom_height_factor, "zoom_height_factor")
        self.zoom_width = (
            None
            if zoom_width_factor is None
            else factor_range(zoom_width_factor, "zoom_width_factor")
        )
        self.translation_height = factor_range(
            translation_height_factor, "translation_height_factor"
        )
        self.translation_width = factor_range(translation_width_factor, "translation_width_factor")
        # RandomShear takes magnitudes in [0, 1] and draws the sign itself.
        self.shear_x = factor_range(shear_x_factor, "shear_x_factor", low=0.0)
        self.shear_y = factor_range(shear_y_factor, "shear_y_factor", low=0.0)
        for value, name, valid in [
            (flip_mode, "flip_mode", FLIP_MODES),
            (fill_mode, "fill_mode", FILL_MODES),
            (interpolation, "interpolation", INTERPOLATIONS),
        ]:
            if value not in valid:
                raise ValueError(
                    f"RandomAffine: {name} must be one of {', '.join(map(str, valid))}, "
                    f"not {value!r}."
                )
        self.flip_mode = flip_mode
        self.fill_mode = fill_mode
        self.interpolation = interpolation
        self.fill_value = fill_value
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        # TensorFlow's resampling op (ImageProjectiveTransformV3) has no XLA kernel.
        self.supports_jit = False

    def sample(self, batch_size: int) -> dict[str, Any]:
        """Per-image parameters, each of shape (batch_size,), drawn as the Keras layers do."""

        def uniform(bounds: tuple[float, float]) -> Any:
            if bounds[0] == bounds[1]:  # nothing to draw: keeps the stream for the rest
                return ops.full((batch_size,), bounds[0])
            return keras.random.uniform(
                (batch_size,), bounds[0], bounds[1], seed=self.seed_generator
            )

        def coin() -> Any:
            return ops.cast(
                keras.random.uniform((batch_size,), seed=self.seed_generator) <= 0.5, "float32"
            )

        zoom_height = 1.0 + uniform(self.zoom_height)
        zoom_width = zoom_height if self.zoom_width is None else 1.0 + uniform(self.zoom_width)
        shear_sign = 1.0 - 2.0 * coin() if self.shear_x != (0, 0) or self.shear_y != (0, 0) else 1.0
        return {
            "flip": coin() if self.flip_mode else ops.zeros((batch_size,)),
            "angle": uniform(self.rotation) * (2.0 * math.pi),
            "zoom_height": zoom_height,
            "zoom_width": zoom_width,
            "translation_height": uniform(self.translation_height),
            "translation_width": uniform(self.translation_width),
            "shear_x": uniform(self.shear_x) * shear_sign,
            "shear_y": uniform(self.shear_y) * shear_sign,
        }

    def transform(self, parameters: dict[str, Any], height: int, width: int) -> Any:
        """The (batch, 8) output-to-input transforms of ``affine_transform``: the product
        flip @ rotation @ zoom @ translation @ shear of the 3x3 matrices."""
        p = {key: ops.cast(value, "float32") for key, value in parameters.items()}
        zero, one = ops.zeros_like(p["angle"]), ops.ones_like(p["angle"])
        h, w = ops.cast(height, "float32"), ops.cast(width, "float32")
        cx, cy = (w - 1.0) / 2.0, (h - 1.0) / 2.0

        def matrix(*rows: Sequence[Any]) -> Any:  # two rows of three; the third is 0 0 1
            entries = [*rows[0], *rows[1], zero, zero, one]
            return ops.reshape(ops.stack(entries, axis=-1), (-1, 3, 3))

        flip = p["flip"]
        mirror_x = flip if self.flip_mode in ("horizontal", "horizontal_and_vertical") else zero
        mirror_y = flip if self.flip_mode in ("vertical", "horizontal_and_vertical") else zero
        flips = matrix(
            (1.0 - 2.0 * mirror_x, zero, mirror_x * (w - 1.0)),
            (zero, 1.0 - 2.0 * mirror_y, mirror_y * (h - 1.0)),
        )
        cos, sin = ops.cos(p["angle"]), ops.sin(p["angle"])
        rotation = matrix(
            (cos, -sin, cx - cx * cos + cy * sin), (sin, cos, cy - cx * sin - cy * cos)
        )
        zx, zy = p["zoom_width"], p["zoom_height"]
        zoom = matrix((zx, zero, cx * (1.0 - zx)), (zero, zy, cy * (1.0 - zy)))
        shift = matrix(
            (one, zero, -p["translation_width"] * w), (zero, one, -p["translation_height"] * h)
        )
        shear = matrix((one, p["shear_x"], zero), (p["shear_y"], one, zero))
        product = flips
        for step in (rotation, zoom, shift, shear):
            product = ops.matmul(product, step)
        return ops.concatenate(
            [product[:, 0, :], product[:, 1, :], ops.zeros_like(product[:, 2, :2])], axis=-1
        )

    def apply(self, images: Any, parameters: dict[str, Any]) -> Any:
        """``images`` (batch, height, width, channels) under the given parameters."""
        shape = ops.shape(images)
        return ops.image.affine_transform(
            images,
            self.transform(parameters, shape[1], shape[2]),
            interpolation=self.interpolation,
            fill_mode=self.fill_mode,
            fill_value=self.fill_value,
            data_format="channels_last",
        )

    def call(self, inputs: Any, training: bool = True) -> Any:
        # Default True as in Keras' preprocessing layers; fit passes True, predict False.
        if not training:
            return inputs
        images = ops.cast(inputs, self.compute_dtype)
        unbatched = len(images.shape) == 3
        if unbatched:
            images = ops.expand_dims(images, 0)
        out = self.apply(images, self.sample(ops.shape(images)[0]))
        return ops.squeeze(out, 0) if unbatched else out

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            **self.factors,
            "flip_mode": self.flip_mode,
            "fill_mode": self.fill_mode,
            "interpolation": self.interpolation,
            "fill_value": self.fill_value,
            "seed": self.seed,
        }
