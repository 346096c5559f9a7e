"""tf.data input pipelines: batches gathered from the decoded split arrays (see
ablate.data.arrays), or decoded from the image files on every pass; then one-hot labels,
augmentation and mixing for training."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from ablate.data.arrays import load_arrays


def gather_batches(
    images: np.ndarray, labels: np.ndarray, batch_size: int, seed: int | None = None
) -> tf.data.Dataset:
    """Batches of (float32 images in [0, 255], int32 labels) gathered from arrays.

    With a ``seed`` the order is reshuffled every epoch; without, it is the array order.
    Only indices flow through tf.data; each batch is one gather from the (memory-mapped)
    array, which is many times faster than decoding files or slicing a tensor per image.
    """
    shape = images.shape[1:]
    indices = tf.data.Dataset.range(len(images))
    if seed is not None:
        indices = indices.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)

    def take(batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        batch = np.sort(batch)  # reads the file front to back
        return images[batch], labels[batch]

    def gather(batch: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        pixels, classes = tf.numpy_function(take, [batch], (tf.uint8, tf.int32), stateful=False)
        pixels.set_shape((None, *shape))
        classes.set_shape((None,))
        return tf.cast(pixels, tf.float32), classes

    return indices.batch(batch_size).map(gather, num_parallel_calls=tf.data.AUTOTUNE)


def folder_batches(
    folder: str | Path,
    class_names: Sequence[str],
    image_size: Sequence[int],
    color_mode: str,
    batch_size: int,
    seed: int | None = None,
) -> tf.data.Dataset:
    """Batches decoded and resized from the image files on every pass
    (``dataset.decode: every_epoch``: no array files on disk, much slower input).

    Keras draws the order: the file list is shuffled once, then each epoch reshuffles
    only within a buffer of a few batches, so epochs are less mixed than the arrays'.
    """
    return keras.utils.image_dataset_from_directory(
        folder,
        labels="inferred",
        label_mode="int",
        class_names=list(class_names),
        color_mode=color_mode,
        batch_size=batch_size,
        image_size=tuple(image_size),
        shuffle=seed is not None,
        seed=seed,
        verbose=False,
    )


def split_batches(
    where: str | Path | Sequence[str | Path],
    split: str,
    batch_size: int,
    seed: int | None = None,
    class_names: Sequence[str] = (),
    dataset: Mapping[str, Any] | None = None,
) -> tuple[tf.data.Dataset, int]:
    """(batches, number of images) of one split: from its (images, labels) array files,
    or from ``where/<split>/<class>/`` (then ``class_names`` and ``dataset`` say how)."""
    if isinstance(where, str | Path):
        folder = Path(where) / split
        batches = folder_batches(
            folder, class_names, dataset["image_size"], dataset["color_mode"], batch_size, seed
        )
        return batches, sum(1 for path in folder.glob("*/*") if path.is_file())
    images, labels = load_arrays(*where)
    return gather_batches(images, labels, batch_size, seed), len(images)


def training_pipeline(
    batches: tf.data.Dataset,
    num_classes: int,
    augmentation: Any | None = None,
    mixing: Callable[[Any, Any], tuple[Any, Any]] | None = None,
) -> tf.data.Dataset:
    """Shuffled batches made one-hot, augmented and mixed, prefetched.

    Augmentation and mixing touch training batches only.
    """
    dataset = one_hot(batches, num_classes)
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


def evaluation_pipeline(
    batches: tf.data.Dataset, num_classes: int | None = None
) -> tf.data.Dataset:
    """Batches in file order, prefetched; labels one-hot when ``num_classes`` is given."""
    if num_classes is not None:
        batches = one_hot(batches, num_classes)
    return batches.prefetch(tf.data.AUTOTUNE)
