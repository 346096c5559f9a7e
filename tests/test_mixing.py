"""CutMix and MixUp: soft labels that add up to one and match what was pasted."""

import numpy as np
import pytest
import tensorflow as tf

from ablate.train import runtime
from ablate.train.augmentation import build_mixing
from ablate.train.optimizers import learning_rate

runtime.configure()
BATCH, SIZE = 8, 32
# Keras weighs labels by the continuous box while pasting whole pixels: they agree to
# within one row and one column of the image.
PIXEL_TOLERANCE = 2 / SIZE


def constant_batch():
    """Image i is filled with the value i and labelled class i."""
    images = np.repeat(np.arange(BATCH, dtype="float32"), SIZE * SIZE * 3)
    images = images.reshape(BATCH, SIZE, SIZE, 3)
    return tf.constant(images), tf.one_hot(np.arange(BATCH), BATCH)


def mix_constant_batch(spec, seed):
    """Mix the constant batch; every mixed label row must still add up to one."""
    mix = build_mixing(spec, seed=seed)
    mixed_images, mixed_labels = (np.asarray(t) for t in mix(*constant_batch()))
    np.testing.assert_allclose(mixed_labels.sum(axis=1), 1.0, rtol=1e-6)
    return mixed_images, mixed_labels


@pytest.mark.parametrize("seed", range(5))
def test_cutmix_label_weight_matches_the_pasted_area(seed):
    mixed_images, mixed_labels = mix_constant_batch({"name": "cutmix", "probability": 1.0}, seed)
    for index in range(BATCH):
        values = mixed_images[index, :, :, 0]
        kept = np.mean(values == index)
        assert mixed_labels[index, index] == pytest.approx(kept, abs=PIXEL_TOLERANCE)
        for other in set(np.unique(values).astype(int)) - {index}:
            pasted = np.mean(values == other)
            assert mixed_labels[index, other] == pytest.approx(pasted, abs=PIXEL_TOLERANCE)


@pytest.mark.parametrize("seed", range(3))
def test_mixup_blends_images_and_labels_with_one_weight(seed):
    mixed_images, mixed_labels = mix_constant_batch(
        {"name": "mixup", "alpha": 0.4, "probability": 1.0}, seed
    )
    for index in range(BATCH):
        # value = w * index + (1 - w) * partner, and the labels carry the same weights
        expected = sum(weight * cls for cls, weight in enumerate(mixed_labels[index]))
        assert mixed_images[index, 0, 0, 0] == pytest.approx(expected, abs=1e-4)


def test_probability_zero_never_mixes():
    mix = build_mixing({"name": "cutmix", "probability": 0.0}, seed=1)
    images, labels = constant_batch()
    mixed_images, mixed_labels = mix(images, labels)
    np.testing.assert_array_equal(mixed_images, images)
    np.testing.assert_array_equal(mixed_labels, labels)
    assert build_mixing(None, seed=1) is None


def test_learning_rate_schedules():
    schedule = {"name": "constant", "alpha": 0.1, "every_epochs": 2, "factor": 0.5}
    assert learning_rate(0.1, schedule, 10, 5) == 0.1
    cosine = learning_rate(0.1, {**schedule, "name": "cosine"}, 10, 5)
    assert float(cosine(0)) == pytest.approx(0.1)
    assert float(cosine(50)) == pytest.approx(0.01)
    step = learning_rate(0.1, {**schedule, "name": "step"}, 10, 5)
    assert [float(step(s)) for s in (0, 19, 20, 40)] == pytest.approx([0.1, 0.1, 0.05, 0.025])


def test_mixing_arguments_are_checked_before_keras_builds_anything():
    with pytest.raises(
        ValueError,
        match=r"^config key 'mixing.alhpa': unknown argument of mixing 'mixup'\. "
        r"Did you mean 'alpha'\? Accepted: alpha, data_format, probability\.$",
    ):
        build_mixing({"name": "mixup", "alhpa": 0.4, "probability": 1.0}, seed=1)
    with pytest.raises(ValueError, match=r"'mixing.seed'.*derives it from each run's seed"):
        build_mixing({"name": "cutmix", "seed": 3, "probability": 1.0}, seed=1)
