"""Decode once: each split's images decoded and resized into one uint8 array file.

Every train job of a study memory-maps the same arrays instead of decoding JPEGs again
for each cell and epoch; memory stays flat however large the split, since only the
batches being gathered are read.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ablate.data.manifest import read_manifest

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
    Every file is first checked against its sha256 in the manifest: an image changed
    after the split stops the step, named, before any training reads it.
    """
    import tensorflow as tf

    table = read_manifest(manifest)
    classes = sorted(table["class"].unique())
    rows = table[table["split"] == split]
    if rows.empty:
        raise ValueError(f"{manifest}: no images in split '{split}'.")
    channels = 1 if color_mode == "grayscale" else 3
    height, width = (int(side) for side in image_size)
    paths = [str(Path(split_dir) / file) for file in rows["file"]]
    check_unchanged(paths, rows["sha256"], manifest)

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
    try:
        for batch in decoded.as_numpy_iterator():
            images[start : start + len(batch)] = batch
            start += len(batch)
    except tf.errors.InvalidArgumentError as error:
        raise ValueError(_undecodable(paths, decode, error)) from None
    images.flush()
    del images
    labels = rows["class"].map({name: index for index, name in enumerate(classes)})
    np.save(labels_path, labels.to_numpy(dtype=np.int32))
    log.info("%s: %d images decoded to %dx%dx%d", split, len(paths), height, width, channels)
    return len(paths)


def check_unchanged(paths: list[str], digests: Iterable[str], manifest: str | Path) -> None:
    """Raise a one-line ValueError naming the first file whose bytes are no longer those
    the split wrote (its sha256 in the manifest)."""
    for path, expected in zip(paths, digests, strict=True):
        if hashlib.sha256(Path(path).read_bytes()).hexdigest() != expected:
            raise ValueError(
                f"{path} changed after the split (its sha256 no longer matches {manifest}): "
                "split again with `snakemake --forcerun split`."
            )


def _undecodable(paths: list[str], decode: Callable[[Any], Any], error: Exception) -> str:
    """The message for a batch TensorFlow could not decode: the first file that fails."""
    for path in paths:
        try:
            decode(path)
        except Exception as failure:  # any decoder error: name the file
            return f"{path}: TensorFlow cannot decode it ({failure.__class__.__name__}); " + (
                "remove it from the source, or convert it to PNG, and run the split again."
            )
    return f"TensorFlow could not decode a batch of images: {error}"


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
