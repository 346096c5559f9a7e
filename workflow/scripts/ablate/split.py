"""Stratified, seeded train/validation/test split of a folder of class folders."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path

import pandas as pd
from sklearn.model_selection import train_test_split

SPLITS = ("train", "validation", "test")
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif"}


def list_images(root: str | Path) -> pd.DataFrame:
    """Every image under ``root/<class>/``, as (source, class) sorted by path."""
    root = Path(root)
    rows = [
        {"source": path.relative_to(root).as_posix(), "class": path.parent.name}
        for path in sorted(root.glob("*/*"))
        if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file()
    ]
    if not rows:
        raise ValueError(f"{root}: no images found in class folders ({root}/<class>/<image>).")
    return pd.DataFrame(rows)


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
    """Copy images to ``split_root/<split>/<class>/``; return the manifest (file, class, split)."""
    source_root, split_root = Path(source_root), Path(split_root)
    classes = sorted(images["class"].unique())
    for split in SPLITS:
        for name in classes:
            (split_root / split / name).mkdir(parents=True, exist_ok=True)
    files = []
    for source, name, split in zip(images["source"], images["class"], images["split"], strict=True):
        relative = f"{split}/{name}/{Path(source).name}"
        shutil.copyfile(source_root / source, split_root / relative)
        files.append(relative)
    return pd.DataFrame({"file": files, "class": images["class"], "split": images["split"]})


def split_dataset(
    raw_dir: str | Path,
    split_dir: str | Path,
    manifest_path: str | Path,
    fractions: Mapping[str, float],
    seed: int,
    max_per_class: int | None = None,
) -> pd.DataFrame:
    images = assign_splits(list_images(raw_dir), fractions, seed, max_per_class)
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
