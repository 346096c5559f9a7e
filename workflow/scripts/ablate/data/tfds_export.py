"""Export a TensorFlow Datasets image-classification data set to class folders and split lists.

Layout written under the destination::

    images/<class>/<tfds split>-<index:06d>.<ext>   the image bytes exactly as TFDS stores them
    splits/<ablate split>.txt                       sorted "<class>/<file name>" lines

Split mapping: TFDS "train" is train (required). TFDS "test" is test; a data set without one
uses its "validation" split as test (TFDS food101's "validation" is Food-101's official test
list). TFDS "validation" becomes validation only when "test" exists too; otherwise the
validation list is empty and the split step carves validation from train. Other splits
are ignored.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

log = logging.getLogger(__name__)

_MAGIC = {
    b"\xff\xd8\xff": "jpg",
    b"\x89PNG\r\n\x1a\n": "png",
    b"GIF87a": "gif",
    b"GIF89a": "gif",
    b"BM": "bmp",
    b"II*\x00": "tif",
    b"MM\x00*": "tif",
}


def export_tfds(
    name: str, destination: str | Path, data_dir: str | None = None, download: bool = True
) -> dict[str, int]:
    """Export TFDS data set `name` into destination/images and destination/splits; return
    images per ablate split."""
    import tensorflow_datasets as tfds

    builder = tfds.builder(name, data_dir=data_dir)
    # Feature types are known from code: refuse a wrong data set before downloading it.
    image_key, label_key, encoded = _find_features(name, builder.info, tfds)
    if download:
        try:
            builder.download_and_prepare()
        except Exception as error:  # network, manual-download or disk errors alike
            raise RuntimeError(_prepare_help(name, builder, error)) from error
    elif not builder.is_prepared():
        raise RuntimeError(_prepare_help(name, builder, None))

    splits = _map_splits(name, list(builder.info.splits))
    folders = _folder_names(builder.info.features[label_key].names)
    images = Path(destination) / "images"
    for folder in folders:
        (images / folder).mkdir(parents=True, exist_ok=True)
    (Path(destination) / "splits").mkdir(parents=True, exist_ok=True)

    # Parse only the two features (others, e.g. bounding boxes, cost time) and keep encoded
    # images as bytes: writing them as stored is fast and lossless.
    decoders = tfds.decode.PartialDecoding(
        {image_key: True, label_key: True},
        decoders={image_key: tfds.decode.SkipDecoding()} if encoded else None,
    )
    counts: dict[str, int] = {}
    for ablate_split, tfds_split in splits.items():
        log.info("%s: exporting TFDS split %r as %s", name, tfds_split, ablate_split)
        lines = []
        dataset = builder.as_dataset(split=tfds_split, decoders=decoders, shuffle_files=False)
        for index, example in enumerate(tfds.as_numpy(dataset)):
            data = example[image_key] if encoded else _png(example[image_key])
            ext = _extension(data)
            if ext is None:  # an encoding we cannot name: store it decoded, as PNG
                with Image.open(io.BytesIO(data)) as image:
                    data, ext = _png(np.asarray(image)), "png"
            label = int(example[label_key])
            if not 0 <= label < len(folders):  # e.g. imagenet2012's test split: label -1
                raise ValueError(
                    f"TFDS data set '{name}': split '{tfds_split}' has unlabelled examples "
                    f"(label {label}); ablate needs labelled train and test splits."
                )
            line = f"{folders[label]}/{tfds_split}-{index:06d}.{ext}"
            (images / line).write_bytes(data)
            lines.append(line)
            if (index + 1) % 10_000 == 0:
                log.info("%s: %s: %d images", name, tfds_split, index + 1)
        # Written last, so an interrupted split leaves no list claiming missing files.
        (Path(destination) / "splits" / f"{ablate_split}.txt").write_text(
            "".join(f"{line}\n" for line in sorted(lines))
        )
        counts[ablate_split] = len(lines)
        log.info("%s: %s: %d images written", name, ablate_split, len(lines))
    if "validation" not in splits:  # an empty list: the split step carves one from train
        (Path(destination) / "splits" / "validation.txt").write_text("")
    return counts


def _prepare_help(name: str, builder: Any, error: Exception | None) -> str:
    root = builder.data_dir_root
    problem = (
        f"could not be downloaded and prepared ({type(error).__name__}: {error})"
        if error
        else "is not prepared and download=False"
    )
    return (
        f"TFDS data set '{name}' {problem}. TFDS looks for it in {builder.data_dir} "
        f"(data_dir {root}). Without internet here, run `tfds build {name} --data_dir DIR` on "
        f"a machine that has it, copy DIR's contents into {root} (or point "
        "dataset.tfds_data_dir at the copy) and run again."
    )


def _find_features(name: str, info: Any, tfds: Any) -> tuple[str, str, bool]:
    """(image key, label key, whether TFDS stores the images encoded)."""
    features, image_type, label_type = info.features, tfds.features.Image, tfds.features.ClassLabel
    keys = info.supervised_keys
    if (
        isinstance(keys, tuple)
        and len(keys) >= 2
        and all(isinstance(key, str) and key in features for key in keys[:2])
        and isinstance(features[keys[1]], label_type)
    ):
        image = features[keys[0]]
        if isinstance(image, image_type):
            return keys[0], keys[1], _stored_encoded(name, image, encoded=True)
        if isinstance(image, tfds.features.Tensor) and len(image.shape) in (2, 3):
            return keys[0], keys[1], _stored_encoded(name, image, encoded=False)  # raw pixels
    images = [key for key, feature in features.items() if isinstance(feature, image_type)]
    labels = [key for key, feature in features.items() if isinstance(feature, label_type)]
    if len(images) == 1 and len(labels) == 1:
        return images[0], labels[0], _stored_encoded(name, features[images[0]], encoded=True)
    described = ", ".join(f"{key}: {type(f).__name__}" for key, f in features.items())
    raise ValueError(
        f"TFDS data set '{name}' is not an image classification data set: ablate needs one "
        f"Image feature and one ClassLabel feature (or supervised_keys naming them), but its "
        f"features are {{{described}}}. Choose a data set with an image and a class label."
    )


def _stored_encoded(name: str, feature: Any, encoded: bool) -> bool:
    """Whether to copy the stored bytes (TFDS encodes uint8/uint16 Images as PNG/JPEG)."""
    if feature.np_dtype not in (np.uint8, np.uint16):
        # float32 Images are stored as bitcast bytes: no image file format holds them as is.
        raise ValueError(
            f"TFDS data set '{name}' has {feature.np_dtype} images; ablate exports uint8 or "
            "uint16 images only."
        )
    return encoded


def _map_splits(name: str, available: list[str]) -> dict[str, str]:
    """Ablate split -> TFDS split (see the module docstring)."""
    if "train" not in available or not {"test", "validation"} & set(available):
        raise ValueError(
            f"TFDS data set '{name}' has splits {sorted(available)}; ablate needs 'train' and "
            "'test' or 'validation'. Choose a data set (or config) that has them."
        )
    splits = {"train": "train", "test": "test" if "test" in available else "validation"}
    if {"test", "validation"} <= set(available):
        splits["validation"] = "validation"
    ignored = sorted(set(available) - set(splits.values()))
    if ignored:
        log.info("%s: ignoring TFDS splits %s", name, ignored)
    return splits


def _folder_names(names: list[str]) -> list[str]:
    """Class names usable as folder names and split-list fields, readable and unique."""
    folders: list[str] = []
    taken: set[str] = set()
    for number, label in enumerate(names):
        folder = label.replace("/", "_").replace("\\", "_").replace("\0", "").strip()
        folder = "_" + folder[1:] if folder.startswith(".") else folder or f"class_{number}"
        # Compared case-blind: macOS and Windows file systems merge "Cat" and "cat".
        while folder.casefold() in taken:
            folder = f"{folder}_{number}"
        taken.add(folder.casefold())
        folders.append(folder)
    return folders


def _extension(data: bytes) -> str | None:
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return next((ext for magic, ext in _MAGIC.items() if data.startswith(magic)), None)


def _png(pixels: np.ndarray) -> bytes:
    if pixels.ndim == 3 and pixels.shape[-1] == 1:
        pixels = pixels[..., 0]  # PIL wants 2-D arrays for grey images
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()
