"""Data sources: fetch a data set named by ``dataset.source`` into one folder per class.

A source is written as '<kind>:<what>'. Each kind is a registered fetcher: 'builtin'
(data shipped in a package) and 'dir' (a folder of class folders) so far; later kinds
(tfds:NAME, url:URL) slot in beside them.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from ablate.registry import Registry

SOURCES = Registry("data source kind")
BUILTIN = Registry("builtin data set")

# scikit-learn's digits are 8x8; 4x upscaling gives convnets room for three poolings.
DIGITS_SIZE = 32


def parse_source(source: str) -> tuple[str, str]:
    kind, separator, what = source.partition(":")
    if not separator or not what:
        raise ValueError(f"dataset.source '{source}' must look like '<kind>:<what>'.")
    return kind, what


def fetch(source: str, destination: str | Path) -> None:
    """Write the images of ``source`` into ``destination/<class>/``, atomically.

    The folder appears only once complete, so an interrupted fetch leaves nothing behind.
    """
    kind, what = parse_source(source)
    fetcher: Callable[[str, Path], None] = SOURCES.get(kind)
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{destination.name}-", dir=destination.parent))
    try:
        fetcher(what, staging)
        staging.rename(destination)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


@SOURCES.register("dir")
def link_folder(path: str, destination: Path) -> None:
    """An existing folder of class folders, read in place: the raw folder holds symbolic
    links to its files, so nothing of the user's is copied, moved or changed."""
    root = Path(path).expanduser().resolve()
    if not root.is_dir():
        raise ValueError(f"dataset.source 'dir:{path}': {root} is not a folder.")
    classes = [d for d in sorted(root.iterdir()) if d.is_dir() and not d.name.startswith(".")]
    if not classes:
        raise ValueError(f"dataset.source 'dir:{path}': no class folders in {root}.")
    for class_dir in classes:
        (destination / class_dir.name).mkdir()
        for file in sorted(class_dir.iterdir()):
            if file.is_file() and not file.name.startswith("."):
                (destination / class_dir.name / file.name).symlink_to(file)


@SOURCES.register("builtin")
def fetch_builtin(name: str, destination: Path) -> None:
    BUILTIN.get(name)(destination)


@BUILTIN.register("digits")
def write_digits(destination: Path) -> None:
    """scikit-learn's 1,797 handwritten digits as 32x32 grayscale PNGs, one folder per digit."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    for index, (image, target) in enumerate(zip(digits.images, digits.target, strict=True)):
        pixels = np.round(image * (255 / 16)).astype(np.uint8)  # digits are 0..16
        upscaled = Image.fromarray(pixels, mode="L").resize(
            (DIGITS_SIZE, DIGITS_SIZE), Image.Resampling.BICUBIC
        )
        class_dir = destination / str(target)
        class_dir.mkdir(exist_ok=True)
        upscaled.save(class_dir / f"digit-{index:04d}.png")
