"""The four ways to divide a data set's images: by fractions, per-class counts, per-class
index ranges or the data set's own lists; stratified by class and seeded."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

SPLITS = ("train", "validation", "test")


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
