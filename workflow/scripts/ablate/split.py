"""Stratified, seeded train/validation/test split of a folder of class folders."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from collections.abc import Mapping
from pathlib import Path

import pandas as pd
from sklearn.model_selection import train_test_split

from ablate.images import convert_to_rgb_png, inspect_image

log = logging.getLogger(__name__)

SPLITS = ("train", "validation", "test")
MANIFEST_COLUMNS = ["file", "class", "split", "sha256", "width", "height"]


def list_images(root: str | Path) -> pd.DataFrame:
    """Every file under ``root/<class>/`` (hidden ones aside), as (source, class) by path.

    Nothing is filtered by extension: inspect_images decides what is an image.
    """
    root = Path(root)
    rows = [
        {"source": path.relative_to(root).as_posix(), "class": path.parent.name}
        for path in sorted(root.glob("*/*"))
        if not path.name.startswith(".") and not path.parent.name.startswith(".")
        and path.is_file()
    ]  # fmt: skip
    if not rows:
        raise ValueError(f"{root}: no images found in class folders ({root}/<class>/<image>).")
    return pd.DataFrame(rows)


def inspect_images(root: str | Path, images: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(usable images with width, height and a ``convert`` reason, quarantined with reason)."""
    checks = [inspect_image(Path(root) / source) for source in images["source"]]
    usable = images.assign(
        width=[check.width for check in checks],
        height=[check.height for check in checks],
        convert=["; ".join(check.problems) if check.usable else "" for check in checks],
    )[[check.usable for check in checks]]
    quarantined = images.assign(reason=["; ".join(check.problems) for check in checks])
    quarantined = quarantined[[not check.usable for check in checks]]
    return usable.reset_index(drop=True), quarantined.reset_index(drop=True)


def assign_splits(
    images: pd.DataFrame,
    fractions: Mapping[str, float],
    seed: int,
    max_per_class: int | None = None,
) -> pd.DataFrame:
    """Add a ``split`` column: stratified by class, the same for the same seed.

    Images beyond ``max_per_class`` per class (drawn with ``seed``) are left out.
    """
    if max_per_class is not None:
        shuffled = images.sample(frac=1.0, random_state=seed)
        images = shuffled.groupby("class").head(max_per_class)
    images = images.sort_values("source").reset_index(drop=True)
    total = sum(fractions[name] for name in SPLITS)
    try:
        rest, test = train_test_split(
            images,
            test_size=fractions["test"] / total,
            stratify=images["class"],
            random_state=seed,
        )
        train, validation = train_test_split(
            rest,
            test_size=fractions["validation"] / (fractions["train"] + fractions["validation"]),
            stratify=rest["class"],
            random_state=seed,
        )
    except ValueError as error:
        counts = images["class"].value_counts().to_dict()
        raise ValueError(
            f"cannot split {len(images)} images stratified by class ({error}). Images per "
            f"class: {counts}. Give every class more images or change dataset.split."
        ) from error
    frames = (train, validation, test)
    parts = [frame.assign(split=name) for name, frame in zip(SPLITS, frames, strict=True)]
    return pd.concat(parts).sort_values(["split", "class", "source"]).reset_index(drop=True)


def materialise(
    images: pd.DataFrame, source_root: str | Path, split_root: str | Path
) -> pd.DataFrame:
    """Place images in ``split_root/<split>/<class>/`` and return the manifest.

    Images usable as they are become hard links to the source (no second copy on disk;
    a copy where links are impossible); the others are converted to RGB PNGs. The
    manifest lists file, class, split, sha256, width and height of what was written.
    """
    source_root, split_root = Path(source_root), Path(split_root)
    for split in SPLITS:
        for name in sorted(images["class"].unique()):
            (split_root / split / name).mkdir(parents=True, exist_ok=True)
    rows = []
    for image in images.to_dict("records"):
        source = (source_root / image["source"]).resolve()
        name = Path(image["source"]).name if not image["convert"] else f"{source.stem}.png"
        relative = f"{image['split']}/{image['class']}/{name}"
        if image["convert"]:
            convert_to_rgb_png(source, split_root / relative)
        else:
            _link_or_copy(source, split_root / relative)
        digest = hashlib.sha256((split_root / relative).read_bytes()).hexdigest()
        rows.append(
            {"file": relative, "class": image["class"], "split": image["split"],
             "sha256": digest, "width": image["width"], "height": image["height"]}
        )  # fmt: skip
    return pd.DataFrame(rows, columns=MANIFEST_COLUMNS)


def _link_or_copy(source: Path, destination: Path) -> None:
    try:
        os.link(source, destination)
    except OSError:  # another file system, or links not allowed
        shutil.copyfile(source, destination)


def split_dataset(
    raw_dir: str | Path,
    split_dir: str | Path,
    manifest_path: str | Path,
    fractions: Mapping[str, float],
    seed: int,
    max_per_class: int | None = None,
    quarantine_path: str | Path | None = None,
) -> pd.DataFrame:
    """Inspect, split and materialise ``raw_dir/<class>/*``; write manifest and quarantine."""
    listed = list_images(raw_dir)
    usable, quarantined = inspect_images(raw_dir, listed)
    if quarantine_path is not None:
        quarantined.to_csv(quarantine_path, index=False)
    for source, reason in zip(quarantined["source"], quarantined["reason"], strict=True):
        log.warning("left out %s: %s", source, reason)
    empty = sorted(set(listed["class"]) - set(usable["class"]))
    if empty:
        raise ValueError(
            f"class(es) {empty} have no readable image left in {raw_dir}; the log lists "
            "every file left out and why. Fix or remove those classes."
        )
    converted = int((usable["convert"] != "").sum())
    if converted:
        log.info("%d image(s) converted to RGB PNG (CMYK, RGBA, 16-bit, ...)", converted)
    images = assign_splits(usable, fractions, seed, max_per_class)
    manifest = materialise(images, raw_dir, split_dir)
    for split in SPLITS:
        missing = set(images["class"]) - set(manifest.loc[manifest["split"] == split, "class"])
        if missing:
            raise ValueError(
                f"split '{split}' has no images of class(es) {sorted(missing)}; "
                "give those classes more images or enlarge that split's fraction."
            )
    manifest.to_csv(manifest_path, index=False)
    return manifest


def class_names(manifest_path: str | Path) -> list[str]:
    """The classes of a split manifest, sorted: index i of a model's output is class i."""
    return sorted(pd.read_csv(manifest_path, dtype={"class": str})["class"].unique())
