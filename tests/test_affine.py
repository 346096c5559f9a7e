"""RandomAffine: the Keras chain's image and distribution in one resampling."""

import inspect
import json
import math

import keras
import numpy as np
import pytest
from scipy import stats

from ablate.train import layers
from ablate.train.affine import RandomAffine
from ablate.train.augmentation import AUGMENTATIONS, build_augmentation

SIZE = 64
MARGIN = 20  # far enough inside that no step of the chain looked outside its image


def smooth_images(count: int) -> np.ndarray:
    """Low-frequency patterns in [0, 255]: bilinear interpolation is nearly exact on them."""
    y, x = np.mgrid[0:SIZE, 0:SIZE].astype("float32")
    images = [
        127 + 60 * np.sin(x / (6 + k) + k) + 60 * np.cos(y / (8 + k) + x / (13 + k))
        for k in range(count)
    ]
    return np.stack([np.stack([i, 255 - i, i / 2], axis=-1) for i in images]).astype("float32")


def numpy(tensor):
    return keras.ops.convert_to_numpy(tensor)


def test_same_parameters_give_the_image_of_the_separate_keras_layers():
    images = smooth_images(6)
    fused = RandomAffine(
        rotation_factor=0.05, zoom_height_factor=0.1, zoom_width_factor=(-0.1, 0.05),
        translation_height_factor=0.1, translation_width_factor=0.1, shear_x_factor=0.1,
        shear_y_factor=0.05, flip_mode="horizontal", fill_mode="constant", seed=3,
    )  # fmt: skip
    drawn = {key: numpy(value) for key, value in fused.sample(len(images)).items()}
    assert 0 < drawn["flip"].sum() < len(images), "both flipped and unflipped images"
    for index, image in enumerate(images):
        one = {key: value[index : index + 1] for key, value in drawn.items()}
        # Keras' layers, each fixed at this image's draw (a range of one value).
        chain = image[None, :, ::-1] if one["flip"][0] else image[None]
        turn = one["angle"][0] / (2 * math.pi)
        zoom = [(one[f"zoom_{side}"][0] - 1,) * 2 for side in ("height", "width")]
        shift = [(one[f"translation_{side}"][0],) * 2 for side in ("height", "width")]
        for layer in [
            keras.layers.RandomRotation((turn, turn), fill_mode="constant"),
            keras.layers.RandomZoom(*zoom, fill_mode="constant"),
            keras.layers.RandomTranslation(*shift, fill_mode="constant"),
        ]:
            chain = layer(chain, training=True)
        # RandomShear draws its sign itself: take its draw and give it to the fused layer.
        shear = keras.layers.RandomShear(
            (abs(one["shear_x"][0]),) * 2, (abs(one["shear_y"][0]),) * 2, fill_mode="constant"
        )
        shear_draw = shear.get_random_transformation(chain, training=True)
        chain = numpy(shear.transform_images(chain, shear_draw, training=True))
        signed = numpy(shear_draw["shear_factor"])[0]
        one["shear_x"], one["shear_y"] = signed[:1], signed[1:]
        single = numpy(fused.apply(image[None], one))
        inner = (slice(None), slice(MARGIN, -MARGIN), slice(MARGIN, -MARGIN))
        difference = np.abs(single[inner] - chain[inner])
        # Four bilinear passes against one: about a tenth of a grey level apart on average.
        assert difference.mean() < 0.5 and difference.max() < 4, (index, difference.max())
        assert np.abs(single[inner] - image[None][inner]).mean() > 10, "it did transform"


def keras_draws(layer, count: int) -> dict:
    return layer.get_random_transformation(np.zeros((count, SIZE, SIZE, 1), "float32"))


def test_the_draws_follow_the_keras_layers_distributions():
    count = 4000
    fused = RandomAffine(
        rotation_factor=0.05, zoom_height_factor=(-0.2, 0.1), translation_height_factor=0.1,
        translation_width_factor=(0.0, 0.2), shear_x_factor=(0.1, 0.3),
        flip_mode="horizontal", seed=1,
    )  # fmt: skip
    ours = {key: numpy(value) for key, value in fused.sample(count).items()}
    keras_angle = numpy(keras_draws(keras.layers.RandomRotation(0.05, seed=2), count)["angle"])
    zoom = keras_draws(keras.layers.RandomZoom((-0.2, 0.1), seed=2), count)
    shift = numpy(
        keras_draws(keras.layers.RandomTranslation(0.1, (0.0, 0.2), seed=2), count)["translations"]
    )
    shear = numpy(keras_draws(keras.layers.RandomShear((0.1, 0.3), seed=2), count)["shear_factor"])
    flips = numpy(keras_draws(keras.layers.RandomFlip("horizontal", seed=2), count)["flips"])
    pairs = {
        "angle": (np.degrees(ours["angle"]), keras_angle),
        "zoom_height": (ours["zoom_height"], numpy(zoom["height_zoom"])[:, 0]),
        "translation_height": (ours["translation_height"] * SIZE, shift[:, 1]),
        "translation_width": (ours["translation_width"] * SIZE, shift[:, 0]),
        "shear_x": (ours["shear_x"], shear[:, 0]),
        "flip": (ours["flip"], flips.reshape(-1).astype("float32")),
    }
    for name, (mine, theirs) in pairs.items():
        # Two samples of one distribution: the KS test cannot tell them apart.
        assert stats.ks_2samp(mine, theirs).pvalue > 1e-3, name
    np.testing.assert_array_equal(ours["zoom_width"], ours["zoom_height"])  # aspect kept
    assert np.abs(np.degrees(ours["angle"])).max() == pytest.approx(18, abs=0.1)  # 0.05 turn
    assert ours["zoom_height"].min() == pytest.approx(0.8, abs=0.01)
    assert ours["zoom_height"].max() == pytest.approx(1.1, abs=0.01)
    assert 0.28 < np.abs(ours["shear_x"]).max() <= 0.3 and np.abs(ours["shear_x"]).min() >= 0.1


def test_inactive_at_inference_active_in_training():
    images = smooth_images(2)
    layer = RandomAffine(rotation_factor=0.1, flip_mode="horizontal_and_vertical", seed=0)
    np.testing.assert_array_equal(numpy(layer(images, training=False)), images)
    assert np.abs(numpy(layer(images, training=True)) - images).mean() > 1
    model = keras.Sequential([keras.Input((SIZE, SIZE, 3)), layer])
    np.testing.assert_array_equal(model.predict(images, verbose=0), images)


def test_saved_models_reload_it_with_its_config(tmp_path):
    layer = RandomAffine(
        rotation_factor=(-0.1, 0.2), zoom_height_factor=0.1, shear_y_factor=0.2,
        flip_mode="vertical", fill_mode="nearest", interpolation="nearest", seed=7,
    )  # fmt: skip
    model = keras.Sequential([keras.Input((SIZE, SIZE, 3)), layer])
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")
    assert type(loaded.layers[0]) is layers.RandomAffine
    as_saved = json.loads(json.dumps(layer.get_config()))  # tuples become lists
    assert loaded.layers[0].get_config() == as_saved
    assert loaded.layers[0].rotation == (-0.1, 0.2) and loaded.layers[0].flip_mode == "vertical"


def test_registered_with_its_arguments_and_built_by_name():
    own = inspect.signature(RandomAffine.__init__).parameters
    assert AUGMENTATIONS._arguments["random_affine"] == tuple(
        name for name in own if name not in ("self", "kwargs")
    )
    stack = build_augmentation([{"name": "random_affine", "rotation_factor": 0.05}], seed=2)
    assert isinstance(stack.layers[0], RandomAffine) and stack.layers[0].seed == 2000
    with pytest.raises(ValueError, match=r"'a\[0\].rotation': unknown argument .*rotation_factor"):
        AUGMENTATIONS.check({"name": "random_affine", "rotation": 0.1}, "a[0]")
    with pytest.raises(ValueError, match=r"random_affine.*fill_mode must be one of"):
        build_augmentation([{"name": "random_affine", "fill_mode": "mirror"}], seed=0)
