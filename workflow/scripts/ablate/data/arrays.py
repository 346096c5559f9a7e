"""Decode once: each split's images decoded and resized into one uint8 array file.

Every train job of a study memory-maps the same arrays instead of decoding JPEGs again
for each cell and epoch; memory stays flat however large the split, since only the
batches being gathered are read.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

# Images decoded per write into the array file: bounds memory, keeps the disk busy.
CHUNK = 256


def decode_split(
    *,
    split_dir: str | Path,
    manifest: str | Path,
    split: str,
    image_size: Sequence[int],
    color_mode: str,
    images_path: str | Path,
    labels_path: str | Path,
) -> int:
    """Write ``split``'s images (N, H, W, C) uint8 and int32 class indices; return N.

    Images are read in manifest order and resized like Keras'
    ``image_dataset_from_directory`` (bilinear, aspect ratio not kept), then rounded.
    """
    import tensorflow as tf

    table = pd.read_csv(manifest, dtype={"class": str})
    classes = sorted(table["class"].unique())
    rows = table[table["split"] == split]
    if rows.empty:
        raise ValueError(f"{manifest}: no images in split '{split}'.")
    channels = 1 if color_mode == "grayscale" else 3
    height, width = (int(side) for side in image_size)
    paths = [str(Path(split_dir) / file) for file in rows["file"]]

    def decode(path: tf.Tensor) -> tf.Tensor:
        image = tf.io.decode_image(tf.io.read_file(path), channels, expand_animations=False)
        image = tf.image.resize(image, (height, width), method="bilinear")
        return tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8)

    decoded = (
        tf.data.Dataset.from_tensor_slices(paths)
        .map(decode, num_parallel_calls=tf.data.AUTOTUNE)
        .batch(CHUNK)
        .prefetch(2)
    )
    images = np.lib.format.open_memmap(
        images_path, mode="w+", dtype=np.uint8, shape=(len(paths), height, width, channels)
    )
    start = 0
    for batch in decoded.as_numpy_iterator():
        images[start : start + len(batch)] = batch
        start += len(batch)
    images.flush()
    del images
    labels = rows["class"].map({name: index for index, name in enumerate(classes)})
    np.save(labels_path, labels.to_numpy(dtype=np.int32))
    log.info("%s: %d images decoded to %dx%dx%d", split, len(paths), height, width, channels)
    return len(paths)


def load_arrays(images_path: str | Path, labels_path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """(images memory-mapped read-only, labels in memory) of one split."""
    images = np.load(images_path, mmap_mode="r")
    labels = np.load(labels_path)
    if len(images) != len(labels):
        raise ValueError(
            f"{images_path} holds {len(images)} images but {labels_path} {len(labels)} "
            "labels: delete both and run again."
        )
    return images, labels
