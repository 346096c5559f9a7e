"""Train/validation/test split of a fetched data set: every file labelled, inspected and
accounted for, the images copied into split folders, a manifest written.

Splitting itself (fractions, counts, ranges, lists) is in ablate.data.splitters; the
inventory of every file in ablate.data.inventory; conflicting labels and near-duplicate
leaks in ablate.data.duplicates.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import itertools
import logging
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from ablate.data import duplicates
from ablate.data.images import MAX_PIXELS, convert_to_rgb_png, inspect_image
from ablate.data.inventory import counts, inventory
from ablate.data.labels import IGNORED_COLUMNS, check_classes, list_labelled
from ablate.data.manifest import MANIFEST_COLUMNS
from ablate.data.splitters import SPLITS, assign_splits, natural_key

log = logging.getLogger(__name__)

__all__ = ["SPLITS", "split_dataset"]

FOLDERS = {"from": "folders", "root": ""}
FICLONE = 0x40049409  # Linux ioctl: a copy that shares the source's blocks (btrfs, XFS)
# Why a readable image was not drawn into any split, by split mode.
NOT_DRAWN = {
    "fractions": "not drawn: dataset.max_per_class",
    "lists": "not drawn: dataset.max_per_class",
    "counts": "beyond the per-class counts of dataset.split",
    "ranges": "outside the index ranges of dataset.split",
}


def inspect_images(
    root: str | Path, images: pd.DataFrame, max_pixels: int = MAX_PIXELS
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(usable images with width, height and a ``convert`` reason; quarantined images with
    the reason; files that are not images at all, with the reason)."""
    checks = [inspect_image(Path(root) / source, max_pixels) for source in images["source"]]
    usable = images.assign(
        width=[check.width for check in checks],
        height=[check.height for check in checks],
        convert=["; ".join(check.problems) if check.usable else "" for check in checks],
    )[[check.usable for check in checks]]
    reasons = images.assign(reason=["; ".join(check.problems) for check in checks])
    quarantined = reasons[[not check.usable and check.image for check in checks]]
    not_images = reasons[[not check.image for check in checks]]
    return (
        usable.reset_index(drop=True),
        quarantined.reset_index(drop=True),
        not_images[IGNORED_COLUMNS].reset_index(drop=True),
    )


def materialise(
    images: pd.DataFrame, source_root: str | Path, split_root: str | Path
) -> pd.DataFrame:
    """Place images in ``split_root/<split>/<class>/`` and return the manifest (plus each
    image's ``source``).

    Images usable as they are are copied (sharing the source's disk blocks where the file
    system can: a reflink), never hard-linked: a source file rewritten later must not
    change the study's split. The others are converted to RGB PNGs. The manifest lists
    file, class, split, sha256, width and height of what was written.
    """
    source_root, split_root = Path(source_root), Path(split_root)
    for split in SPLITS:
        for name in sorted(images["class"].unique()):
            (split_root / split / name).mkdir(parents=True, exist_ok=True)
    rows, taken = [], set()
    for image in images.to_dict("records"):
        source = (source_root / image["source"]).resolve()
        name = Path(image["source"])
        name = name.with_suffix(".png") if image["convert"] else name
        relative = f"{image['split']}/{image['class']}/{name.name}"
        # Names from nested folders or conversions may meet: number the later ones.
        for number in itertools.count(2):
            if relative not in taken:
                break
            relative = f"{image['split']}/{image['class']}/{name.stem}-{number}{name.suffix}"
        taken.add(relative)
        if image["convert"]:
            convert_to_rgb_png(source, split_root / relative)
        else:
            copy_file(source, split_root / relative)
        digest = hashlib.sha256((split_root / relative).read_bytes()).hexdigest()
        rows.append(
            {"file": relative, "class": image["class"], "split": image["split"],
             "sha256": digest, "width": image["width"], "height": image["height"],
             "source": image["source"]}
        )  # fmt: skip
    return pd.DataFrame(rows, columns=[*MANIFEST_COLUMNS, "source"])


def copy_file(source: Path, destination: Path) -> None:
    """A reflink where the file system makes one (no second copy on disk), else a copy."""
    with open(source, "rb") as reader, open(destination, "wb") as writer:
        try:
            fcntl.ioctl(writer.fileno(), FICLONE, reader.fileno())
            return
        except OSError as error:  # ext4, tmpfs, another file system
            if error.errno not in (errno.EOPNOTSUPP, errno.EXDEV, errno.EINVAL, errno.ENOTTY):
                raise
        shutil.copyfileobj(reader, writer, 1 << 20)


def split_dataset(
    raw_dir: str | Path,
    split_dir: str | Path,
    manifest_path: str | Path,
    split: Mapping[str, Any],
    labels: Mapping[str, Any] = FOLDERS,
    quarantine_path: str | Path | None = None,
    inventory_path: str | Path | None = None,
    conflicts_path: str | Path | None = None,
    near_duplicates_path: str | Path | None = None,
) -> pd.DataFrame:
    """Label, inspect, split and materialise ``raw_dir``; write the manifest and, where
    given, the quarantine, the inventory of every file, the conflicting labels and the
    near-duplicate pairs."""
    listed, ignored = list_labelled(raw_dir, labels)
    check_classes(sorted(listed["class"].unique()), f"dataset.labels ({raw_dir})", labels)
    natural = listed.sort_values("source", key=lambda sources: sources.map(natural_key))
    listed["position"] = natural.groupby("class").cumcount()
    listed["class_size"] = listed.groupby("class")["source"].transform("size")
    max_pixels = split.get("max_pixels") or MAX_PIXELS
    usable, quarantined, not_images = inspect_images(raw_dir, listed, max_pixels)
    ignored = pd.concat([ignored, not_images], ignore_index=True)
    if quarantine_path is not None:
        quarantined[["source", "class", "reason"]].to_csv(quarantine_path, index=False)
    for source, reason in zip(quarantined["source"], quarantined["reason"], strict=True):
        log.warning("left out %s: %s", source, reason)
    empty = sorted(set(listed["class"]) - set(usable["class"]))
    if empty:
        raise ValueError(
            f"class(es) {empty} have no readable image left in {raw_dir}; the log lists "
            "every file left out and why. Fix or remove those classes."
        )
    images = assign_splits(usable, split)
    converted = images[images["convert"] != ""]  # those left undrawn are not written
    if len(converted):
        log.info("%d image(s) converted to RGB PNG (CMYK, RGBA, 16-bit, ...)", len(converted))
    not_drawn = usable[~usable["source"].isin(set(images["source"]))]
    reason = NOT_DRAWN[split["by"]]
    ignored = pd.concat([ignored, not_drawn[["source"]].assign(reason=reason)])
    manifest = materialise(images, raw_dir, split_dir)
    for part in SPLITS:
        missing = set(images["class"]) - set(manifest.loc[manifest["split"] == part, "class"])
        if missing:
            raise ValueError(
                f"split '{part}' has no images of class(es) {sorted(missing)}; "
                "give those classes more images or change dataset.split."
            )
    conflicts, pairs = duplicates.report(manifest, split_dir)
    for table, path in ((conflicts, conflicts_path), (pairs, near_duplicates_path)):
        if path is not None:
            table.to_csv(path, index=False)
    accounted = inventory(manifest, converted, quarantined, ignored)
    if inventory_path is not None:
        accounted.to_csv(inventory_path, index=False)
    log.info("every file under %s: %s", raw_dir, counts(accounted))
    manifest = manifest[MANIFEST_COLUMNS]
    manifest.to_csv(manifest_path, index=False)
    return manifest
