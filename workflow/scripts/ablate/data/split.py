"""Train/validation/test split of a fetched data set: by fractions, per-class counts,
per-class index ranges or the data set's own lists; stratified and seeded."""

from __future__ import annotations

import hashlib
import itertools
import logging
import os
import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from ablate.data.images import convert_to_rgb_png, inspect_image
from ablate.data.labels import list_labelled

log = logging.getLogger(__name__)

SPLITS = ("train", "validation", "test")
MANIFEST_COLUMNS = ["file", "class", "split", "sha256", "width", "height"]
FOLDERS = {"from": "folders", "root": ""}


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


def assign_splits(images: pd.DataFrame, split: Mapping[str, Any]) -> pd.DataFrame:
    """Add a ``split`` column the way ``split['by']`` says; the same for the same seed.

    ``images`` has ``source`` and ``class`` (plus ``position``, the index of each image in
    its class in natural order of the paths, and ``class_size``, for ranges;
    ``listed_split`` for lists).
    """
    assigned = SPLITTERS[split["by"]](images, split)
    order = ["split", "class", "source"]
    return (
        assigned.sort_values(order)
        .reset_index(drop=True)
        .drop(columns="listed_split", errors="ignore")
    )


def _by_fractions(images: pd.DataFrame, split: Mapping[str, Any]) -> pd.DataFrame:
    """Stratified fractions; ``max_per_class`` images per class (drawn with the seed) at most."""
    seed = split["seed"]
    images = _at_most(images, split, ["class"])
    images = images.sort_values("source").reset_index(drop=True)
    total = sum(split[name] for name in SPLITS)
    rest, test = _stratified(images, split["test"] / total, seed)
    validation_share = split["validation"] / (split["train"] + split["validation"])
    train, validation = _stratified(rest, validation_share, seed)
    return _concat(train=train, validation=validation, test=test)


def _by_counts(images: pd.DataFrame, split: Mapping[str, Any]) -> pd.DataFrame:
    """``train``, ``validation`` and ``test`` images of every class, drawn with the seed."""
    counts = {name: int(split[name]) for name in SPLITS}
    needed = sum(counts.values())
    sizes = images.groupby("class").size()
    short = sizes[sizes < needed]
    if not short.empty:
        raise ValueError(
            f"dataset.split asks for {needed} images per class ({counts}) but class(es) "
            f"{short.to_dict()} have fewer readable ones; lower the counts."
        )
    shuffled = images.sort_values("source").sample(frac=1.0, random_state=split["seed"])
    rank = shuffled.groupby("class").cumcount()
    edges = np.cumsum([0, *counts.values()])
    label = pd.cut(rank, edges, right=False, labels=list(SPLITS))
    return shuffled.assign(split=label.astype(object)).dropna(subset=["split"])


def _by_ranges(images: pd.DataFrame, split: Mapping[str, Any]) -> pd.DataFrame:
    """Per-class index ranges [start, stop) over each class's files in natural name order
    (``cat.2.jpg`` before ``cat.10.jpg``); left-out unreadable files keep their index."""
    parts = {}
    for name in SPLITS:
        start, stop = split[name]
        parts[name] = images[(images["position"] >= start) & (images["position"] < stop)]
    stop = max(split[name][1] for name in SPLITS)
    sizes = images.groupby("class")["class_size"].first()  # files listed, readable or not
    short = sizes[sizes < stop]
    if not short.empty:
        raise ValueError(
            f"dataset.split ranges reach index {stop - 1} but class(es) {short.to_dict()} "
            "have fewer images; lower the ranges."
        )
    return _concat(**parts)


def _by_lists(images: pd.DataFrame, split: Mapping[str, Any]) -> pd.DataFrame:
    """The data set's own split lists; without a validation list, ``validation`` (a fraction)
    of the train list is carved out, stratified and seeded."""
    listed = set(images["listed_split"])
    unknown = listed - set(SPLITS)
    if unknown or not {"train", "test"} <= listed:
        raise ValueError(
            f"dataset.labels.lists must name train and test (and may name validation), "
            f"not {sorted(listed)}."
        )
    images = _at_most(images, split, ["listed_split", "class"])
    parts = {name: images[images["listed_split"] == name] for name in SPLITS}
    if "validation" not in listed:
        parts["train"], parts["validation"] = _stratified(
            parts["train"].sort_values("source"), split["validation"], split["seed"]
        )
    return _concat(**parts)


def _at_most(images: pd.DataFrame, split: Mapping[str, Any], groups: list[str]) -> pd.DataFrame:
    """``max_per_class`` images of each group at most, drawn with the split seed."""
    if split.get("max_per_class") is None:
        return images
    shuffled = images.sample(frac=1.0, random_state=split["seed"])
    return shuffled.groupby(groups).head(split["max_per_class"])


SPLITTERS = {
    "fractions": _by_fractions,
    "counts": _by_counts,
    "ranges": _by_ranges,
    "lists": _by_lists,
}


def _stratified(images: pd.DataFrame, share: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(rest, share of ``images``), stratified by class."""
    try:
        return train_test_split(
            images, test_size=share, stratify=images["class"], random_state=seed
        )
    except ValueError as error:
        counts = images["class"].value_counts().to_dict()
        raise ValueError(
            f"cannot split {len(images)} images stratified by class ({error}). Images per "
            f"class: {counts}. Give every class more images or change dataset.split."
        ) from error


def _concat(**parts: pd.DataFrame) -> pd.DataFrame:
    return pd.concat([frame.assign(split=name) for name, frame in parts.items()])


def natural_key(text: str) -> list[Any]:
    """Sort key that orders the numbers inside names by value: a2 < a10."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


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
    split: Mapping[str, Any],
    labels: Mapping[str, Any] = FOLDERS,
    quarantine_path: str | Path | None = None,
) -> pd.DataFrame:
    """Label, inspect, split and materialise ``raw_dir``; write manifest and quarantine."""
    listed = list_labelled(raw_dir, labels)
    natural = listed.sort_values("source", key=lambda sources: sources.map(natural_key))
    listed["position"] = natural.groupby("class").cumcount()
    listed["class_size"] = listed.groupby("class")["source"].transform("size")
    usable, quarantined = inspect_images(raw_dir, listed)
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
    converted = int((usable["convert"] != "").sum())
    if converted:
        log.info("%d image(s) converted to RGB PNG (CMYK, RGBA, 16-bit, ...)", converted)
    images = assign_splits(usable, split)
    manifest = materialise(images, raw_dir, split_dir)
    for split in SPLITS:
        missing = set(images["class"]) - set(manifest.loc[manifest["split"] == split, "class"])
        if missing:
            raise ValueError(
                f"split '{split}' has no images of class(es) {sorted(missing)}; "
                "give those classes more images or change dataset.split."
            )
    manifest.to_csv(manifest_path, index=False)
    return manifest


def class_names(manifest_path: str | Path) -> list[str]:
    """The classes of a split manifest, sorted: index i of a model's output is class i."""
    return sorted(pd.read_csv(manifest_path, dtype={"class": str})["class"].unique())
