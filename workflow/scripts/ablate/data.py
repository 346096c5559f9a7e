"""tf.data input pipelines over the split folders."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf


def load_split(
    split_dir: str | Path,
    split: str,
    class_names: Sequence[str],
    image_size: Sequence[int],
    color_mode: str,
) -> tf.data.Dataset:
    """Unbatched (image, label) pairs of one split, in file order, decoded once and cached.

    Images are float32 in [0, 255]; models rescale them themselves. ``class_names`` fixes
    the label order so that every split and the model agree on it.
    """
    dataset = keras.utils.image_dataset_from_directory(
        Path(split_dir) / split,
        labels="inferred",
        label_mode="int",
        class_names=list(class_names),
        color_mode=color_mode,
        batch_size=None,
        image_size=tuple(image_size),
        shuffle=False,
        verbose=False,
    )
    return dataset.cache()


def training_pipeline(
    dataset: tf.data.Dataset,
    batch_size: int,
    seed: int,
    num_classes: int,
    augmentation: Any | None = None,
    mixing: Callable[[Any, Any], tuple[Any, Any]] | None = None,
) -> tf.data.Dataset:
    """Reshuffled every epoch, batched, one-hot, augmented and mixed, prefetched.

    Augmentation and mixing touch training batches only.
    """
    size = int(dataset.cardinality())
    dataset = dataset.shuffle(max(size, 1), seed=seed, reshuffle_each_iteration=True)
    dataset = one_hot(dataset.batch(batch_size), num_classes)
    if augmentation is not None:
        dataset = dataset.map(
            lambda images, labels: (augmentation(images, training=True), labels),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    if mixing is not None:
        dataset = dataset.map(mixing, num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.prefetch(tf.data.AUTOTUNE)


def one_hot(dataset: tf.data.Dataset, num_classes: int) -> tf.data.Dataset:
    """Integer labels as one-hot float32 rows (what mixing and label smoothing need)."""
    return dataset.map(
        lambda images, labels: (images, tf.one_hot(labels, num_classes)),
        num_parallel_calls=tf.data.AUTOTUNE,
    )


def evaluation_pipeline(dataset: tf.data.Dataset, batch_size: int) -> tf.data.Dataset:
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)
