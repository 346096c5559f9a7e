"""Data sources: fetch the data set named by ``dataset.source`` into one folder.

A source is written as '<kind>:<what>'. Each kind is a registered fetcher: 'builtin'
(data shipped in a package), 'dir' (a folder on disk, read in place), 'url' (an archive,
downloaded and extracted safely) and 'tfds' (a TensorFlow Datasets data set, exported).
What the folder holds is read by ablate.data.labels (class folders, file names, split lists).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import urllib.parse
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

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


def check_source(
    dataset: Mapping[str, Any], key: str = "dataset.source", workdir: str | Path | None = None
) -> None:
    """Raise a one-line ValueError, naming ``key``, for a source that cannot be fetched:
    an unknown kind or builtin data set, or a 'dir:' path that is not a folder.

    Done when the workflow is planned, so a typo fails before any job; a relative 'dir:'
    path is relative to ``workdir`` (default: the working directory, as for the jobs).
    """
    source = dataset["source"]
    try:
        kind, what = parse_source(source)
    except ValueError:
        raise ValueError(
            f"config key '{key}': '{source}' must look like '<kind>:<what>', kind one of "
            f"{', '.join(SOURCES.names())}."
        ) from None
    if kind not in SOURCES:
        raise ValueError(f"config key '{key}': {SOURCES.unknown_message(kind)}")
    if kind == "builtin" and what not in BUILTIN:
        raise ValueError(f"config key '{key}': {BUILTIN.unknown_message(what)}")
    if kind == "dir":
        folder = Path(workdir or Path.cwd()) / Path(what).expanduser()
        if not folder.is_dir():
            there = "it is a file" if folder.exists() else "nothing exists there"
            raise ValueError(
                f"config key '{key}': 'dir:{what}': {folder} is not a folder ({there})."
            )


# (what, empty folder to fill, options: sha256, tfds_data_dir, downloads) -> None
Fetcher = Callable[[str, Path, Mapping[str, Any]], None]


def fetch(source: str, destination: str | Path, **options: Any) -> None:
    """Write the data set of ``source`` into ``destination``, atomically.

    The folder appears only once complete, so an interrupted fetch leaves nothing behind.
    ``options``: ``sha256`` (url), ``downloads`` (folder that keeps downloaded archives,
    so a failed or repeated fetch resumes instead of downloading again), ``tfds_data_dir``.
    """
    check_source({"source": source})  # the same message as at plan time
    kind, what = parse_source(source)
    fetcher: Fetcher = SOURCES.get(kind)
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{destination.name}-", dir=destination.parent))
    try:
        fetcher(what, staging, options)
        staging.rename(destination)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


@SOURCES.register("dir")
def link_folder(path: str, destination: Path, options: Mapping[str, Any]) -> None:
    """An existing folder, read in place: the raw folder mirrors its tree with symbolic
    links to its files, so nothing of the user's is copied, moved or changed.

    Linked folders are walked into (ablate.data.inventory.walk); hidden entries, link
    loops and broken links are mirrored as links too, so that the split step sees them
    and accounts for them in the inventory.
    """
    from ablate.data.inventory import walk

    root = Path(path).expanduser().resolve()
    if not root.is_dir():
        raise ValueError(f"dataset.source 'dir:{path}': {root} is not a folder.")
    linked = 0
    for entry in walk(root):
        mirror = destination / entry.path.rstrip("/")
        mirror.parent.mkdir(parents=True, exist_ok=True)
        if entry.loop_to is not None:  # the same loop, inside the mirror
            mirror.symlink_to(os.path.relpath(destination / entry.loop_to, mirror.parent))
        elif entry.problem is None or entry.problem == "hidden":
            mirror.symlink_to(root / entry.path)
            linked += entry.problem is None
        elif Path(root / entry.path).is_symlink():  # broken: the same dangling link
            mirror.symlink_to(os.readlink(root / entry.path))
    if not linked:
        raise ValueError(
            f"dataset.source 'dir:{path}': no files in {root} (hidden ones are not read); "
            "point it at the folder that holds the class folders."
        )


def source_fingerprint(source: str, workdir: str | Path = ".") -> str:
    """What decides whether a fetched source is still the one the study was split from:
    for a 'dir:' source the names, sizes and modification times of its files; '' for the
    other kinds, whose content is fixed by their name and checksum."""
    from ablate.data.inventory import fingerprint

    kind, what = parse_source(source)
    if kind != "dir":
        return ""
    return fingerprint(Path(workdir) / Path(what).expanduser())


@SOURCES.register("url")
def fetch_archive(url: str, destination: Path, options: Mapping[str, Any]) -> None:
    """A zip or tar archive: downloaded (kept under ``downloads``, named by its checksum,
    so other studies and reruns reuse it), verified, then extracted safely."""
    from ablate.data.archives import download, extract

    name = Path(urllib.parse.urlparse(url).path).name or "archive"
    archive = Path(options["downloads"]) / f"{options['sha256'][:16]}-{name}"
    archive.parent.mkdir(parents=True, exist_ok=True)
    download(url, archive, options["sha256"])
    destination.rmdir()  # extract() creates its target itself, atomically
    extract(archive, destination)


@SOURCES.register("tfds")
def fetch_tfds(name: str, destination: Path, options: Mapping[str, Any]) -> None:
    """A TensorFlow Datasets data set, exported to images/<class>/ and splits/<split>.txt."""
    from ablate.data.tfds_export import export_tfds

    export_tfds(name, destination, data_dir=options.get("tfds_data_dir"))


@SOURCES.register("builtin")
def fetch_builtin(name: str, destination: Path, options: Mapping[str, Any]) -> None:
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
