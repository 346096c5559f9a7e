"""Where an image's class comes from: class folders, a file-name pattern, or split lists.

Each labeller takes the files of a fetched data set (ablate.data.inventory.walk) and says,
for each, its ``class`` or why it is ignored; split lists and split folders add
``listed_split``, the split the data set itself puts the image in. Nothing is filtered by
extension: the split step inspects every labelled file and decides what is an image.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from ablate.data.inventory import walk
from ablate.registry import Registry

LABELS = Registry("labels source")
# (files under ``root`` as paths relative to it, the data set's top folder, root,
# dataset.labels) -> (``source`` relative to root and ``class``; ignored ``source``, ``reason``)
Labeller = Callable[[list[str], Path, Path, Mapping[str, Any]], tuple[pd.DataFrame, pd.DataFrame]]
IGNORED_COLUMNS = ["source", "reason"]
SNAKEMAKE_MARK = ".snakemake_timestamp"  # Snakemake's own, in every directory() output
# Folder names that name a split, not a class (train/, test1/, val/, ...).
SPLIT_LIKE = re.compile(r"(train|training|test|testing|val|valid|validation|eval|dev)\d*", re.I)
SPLIT_FOLDERS = {"train": "train", "training": "train", "val": "validation",
                 "valid": "validation", "validation": "validation", "test": "test",
                 "testing": "test"}  # fmt: skip


def list_labelled(top: str | Path, labels: Mapping[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the images under ``top`` with their class, as ``labels`` describes; every other
    file with the reason it is ignored), ``source`` relative to ``top`` in both."""
    top = Path(top)
    root = top / labels["root"]
    if not root.is_dir():
        raise ValueError(
            f"dataset.labels.root '{labels['root']}': no such folder in the data set "
            f"({root}). Its top level holds: {_listing(top)}."
        )
    prefix = Path(labels["root"]).as_posix().strip("./")
    prefix = prefix + "/" if prefix else ""
    files, ignored = [], []
    for entry in walk(top):
        if entry.path == SNAKEMAKE_MARK:
            continue
        if entry.problem is not None:
            ignored.append({"source": entry.path, "reason": entry.problem})
        elif entry.path.startswith(prefix):
            files.append(entry.path.removeprefix(prefix))
        else:
            ignored.append({"source": entry.path, "reason": f"outside {prefix}"})
    labeller: Labeller = LABELS.get(labels["from"])
    table, also_ignored = labeller(files, top, root, labels)
    if table.empty:
        raise ValueError(
            f"dataset.labels (from: {labels['from']}): no images found under {root}. "
            f"It holds: {_listing(root)}."
        )
    table["source"] = prefix + table["source"]
    also_ignored["source"] = prefix + also_ignored["source"]
    # Class names stay text: a folder named 'NA' or 'null' is a class, not a missing value.
    table["class"] = table["class"].astype(str)
    ignored = pd.concat([pd.DataFrame(ignored, columns=IGNORED_COLUMNS), also_ignored])
    return (
        table.sort_values("source").reset_index(drop=True),
        ignored.sort_values("source").reset_index(drop=True),
    )


def check_classes(classes: list[str], where: str, labels: Mapping[str, Any]) -> None:
    """Raise a one-line ValueError for class folders that cannot make a study: fewer than
    two, or folders that name splits (train/, test1/) rather than classes."""
    split_like = [name for name in classes if SPLIT_LIKE.fullmatch(name)]
    if labels["from"] == "folders" and len(split_like) >= 2:
        root = labels["root"] or "its top"
        train = next((name for name in split_like if name.lower().startswith("train")), None)
        raise ValueError(
            f"{where}: the folders {', '.join(split_like)} in {root} look like splits, not "
            "classes. With class folders inside each split folder, set dataset.labels: "
            "{from: split_folders}; to use the class folders of one of them, set "
            f"dataset.labels.root (e.g. root: {train or split_like[0]})."
        )
    if len(classes) < 2:
        found = f"only '{classes[0]}'" if classes else "none"
        raise ValueError(
            f"{where}: a classifier needs at least two classes, found {found}"
            f"{' (under ' + labels['root'] + ')' if labels['root'] else ''}; add class "
            "folders or point dataset.labels.root at the folder that holds them."
        )


def check_class_folders(source: str, labels: Mapping[str, Any], workdir: str | Path) -> None:
    """What a 'dir:' source with class folders shows before any job: at least two class
    folders, and no split folders (train/, test/) among them."""
    kind, _, what = source.partition(":")
    root = Path(workdir) / Path(what).expanduser() / labels["root"]
    if kind != "dir" or labels["from"] != "folders" or not root.is_dir():
        return
    # An empty folder (still to be filled?) is left to the download step, which names it.
    if folders := class_folders(root):
        check_classes(folders, f"config key 'dataset.source' ({root})", labels)


def class_folders(root: str | Path) -> list[str]:
    """The class folders directly under ``root`` (linked ones too, hidden ones not)."""
    with os.scandir(root) as scan:
        return sorted(e.name for e in scan if e.is_dir() and not e.name.startswith("."))


def _listing(folder: Path, limit: int = 8) -> str:
    names = sorted(p.name + ("/" if p.is_dir() else "") for p in folder.iterdir())
    return ", ".join(names[:limit]) + (", ..." if len(names) > limit else "") or "nothing"


def _tables(rows: list[dict[str, str]], ignored: list[dict[str, str]], columns: list[str]):
    return pd.DataFrame(rows, columns=columns), pd.DataFrame(ignored, columns=IGNORED_COLUMNS)


@LABELS.register("folders")
def from_folders(
    files: list[str], top: Path, root: Path, labels: Mapping[str, Any]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``root/<class>/.../<image>``: the class folder's name is the class, for images at
    any depth below it (as Keras and torchvision read class folders)."""
    rows, ignored = [], []
    for file in files:
        name, separator, _ = file.partition("/")
        if separator:
            rows.append({"source": file, "class": name})
        else:
            ignored.append({"source": file, "reason": "not inside a class folder"})
    return _tables(rows, ignored, ["source", "class"])


@LABELS.register("split_folders")
def from_split_folders(
    files: list[str], top: Path, root: Path, labels: Mapping[str, Any]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``root/<split>/<class>/.../<image>`` with split folders train (or training),
    val, valid or validation, and test (or testing): the data set's own split."""
    rows, ignored = [], []
    for file in files:
        parts = file.split("/")
        split = SPLIT_FOLDERS.get(parts[0].lower())
        if split is None:
            reason = f"folder '{parts[0]}' is not a split (train, val, test)"
            ignored.append({"source": file, "reason": reason if len(parts) > 1 else
                            "not inside a split folder"})  # fmt: skip
        elif len(parts) < 3:
            ignored.append({"source": file, "reason": "not inside a class folder"})
        else:
            rows.append({"source": file, "class": parts[1], "listed_split": split})
    return _tables(rows, ignored, ["source", "class", "listed_split"])


@LABELS.register("file_name")
def from_file_name(
    files: list[str], top: Path, root: Path, labels: Mapping[str, Any]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Files anywhere under ``root`` whose name matches ``pattern``; its ``class`` group
    is the class (``cat.123.jpg`` with ``^(?P<class>cat|dog)\\.\\d+\\.jpg$``).

    Files that do not match are not part of the data set (read-me files, licences).
    """
    pattern = re.compile(labels["pattern"])
    rows, ignored = [], []
    for file in files:
        if match := pattern.fullmatch(file.rpartition("/")[2]):
            rows.append({"source": file, "class": match["class"]})
        else:
            ignored.append({"source": file, "reason": "name does not match labels.pattern"})
    return _tables(rows, ignored, ["source", "class"])


@LABELS.register("split_lists")
def from_split_lists(
    files: list[str], top: Path, root: Path, labels: Mapping[str, Any]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Lists of ``<class>/<name>`` lines per split, as Food-101's ``meta/train.txt``.

    List paths are relative to the data set's top folder, their lines relative to ``root``;
    ``suffix`` is appended to every line (Food-101 leaves out the ``.jpg``).
    """
    rows = []
    for split, list_path in labels["lists"].items():
        path = top / list_path
        if not path.is_file():
            raise ValueError(
                f"dataset.labels.lists.{split}: '{list_path}' is not a file in the data set "
                f"({path})."
            )
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            line = line.strip()
            if not line:
                continue
            image = line + labels["suffix"]
            if "/" not in image:
                raise ValueError(f"{list_path}, line {number}: '{line}' is not '<class>/<file>'.")
            rows.append({"source": image, "class": image.split("/")[0], "listed_split": split})
    table = pd.DataFrame(rows, columns=["source", "class", "listed_split"])
    twice = table.loc[table.duplicated("source"), "source"]
    if not twice.empty:
        raise ValueError(
            f"dataset.labels.lists: {twice.iloc[0]} is listed more than once; every image "
            "may appear in one split list, once."
        )
    present = set(files)
    missing = [source for source in table["source"] if source not in present]
    if missing:
        raise ValueError(
            f"dataset.labels.lists: {len(missing)} listed image(s) do not exist under "
            f"{root}, e.g. {(root / missing[0]).relative_to(top).as_posix()}. Check "
            "dataset.labels.root and suffix."
        )
    listed = set(table["source"])
    ignored = [{"source": f, "reason": "in no split list"} for f in files if f not in listed]
    return table, pd.DataFrame(ignored, columns=IGNORED_COLUMNS)
