"""Where an image's class comes from: class folders, a file-name pattern, or split lists.

Each labeller lists the files of a fetched data set as a table of ``source`` (path relative
to the data set's top folder) and ``class``; split lists add ``listed_split``, the split the
data set itself puts the image in. Nothing is filtered by extension: the split step
inspects every listed file and decides what is an image.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from ablate.registry import Registry

LABELS = Registry("labels source")
# (top folder of the data set, folder the images are under, dataset.labels) -> table with
# ``source`` relative to the top folder.
Labeller = Callable[[Path, Path, Mapping[str, Any]], pd.DataFrame]


def list_labelled(top: str | Path, labels: Mapping[str, Any]) -> pd.DataFrame:
    """The files of the data set under ``top`` with their class, as ``labels`` describes."""
    top = Path(top)
    root = top / labels["root"]
    if not root.is_dir():
        raise ValueError(
            f"dataset.labels.root '{labels['root']}': no such folder in the data set "
            f"({root}). Its top level holds: {_listing(top)}."
        )
    labeller: Labeller = LABELS.get(labels["from"])
    table = labeller(top, root, labels)
    if table.empty:
        raise ValueError(
            f"dataset.labels (from: {labels['from']}): no images found under {root}. "
            f"It holds: {_listing(root)}."
        )
    table["class"] = table["class"].astype(str)
    return table.sort_values("source").reset_index(drop=True)


def _visible(path: Path, root: Path) -> bool:
    return path.is_file() and not any(part.startswith(".") for part in path.relative_to(root).parts)


def _listing(folder: Path, limit: int = 8) -> str:
    names = sorted(p.name + ("/" if p.is_dir() else "") for p in folder.iterdir())
    return ", ".join(names[:limit]) + (", ..." if len(names) > limit else "") or "nothing"


@LABELS.register("folders")
def from_folders(top: Path, root: Path, labels: Mapping[str, Any]) -> pd.DataFrame:
    """``root/<class>/<image>``: the folder name is the class."""
    rows = [
        {"source": path.relative_to(top).as_posix(), "class": path.parent.name}
        for path in sorted(root.glob("*/*"))
        if _visible(path, root)
    ]
    return pd.DataFrame(rows, columns=["source", "class"])


@LABELS.register("file_name")
def from_file_name(top: Path, root: Path, labels: Mapping[str, Any]) -> pd.DataFrame:
    """Files anywhere under ``root`` whose name matches ``pattern``; its ``class`` group
    is the class (``cat.123.jpg`` with ``^(?P<class>cat|dog)\\.\\d+\\.jpg$``).

    Files that do not match are not part of the data set (read-me files, licences).
    """
    pattern = re.compile(labels["pattern"])
    rows = []
    for path in sorted(root.rglob("*")):
        if _visible(path, root) and (match := pattern.fullmatch(path.name)):
            rows.append({"source": path.relative_to(top).as_posix(), "class": match["class"]})
    return pd.DataFrame(rows, columns=["source", "class"])


@LABELS.register("split_lists")
def from_split_lists(top: Path, root: Path, labels: Mapping[str, Any]) -> pd.DataFrame:
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
            source = (root / image).relative_to(top).as_posix()
            rows.append({"source": source, "class": image.split("/")[0], "listed_split": split})
    table = pd.DataFrame(rows, columns=["source", "class", "listed_split"])
    twice = table.loc[table.duplicated("source"), "source"]
    if not twice.empty:
        raise ValueError(
            f"dataset.labels.lists: {twice.iloc[0]} is listed more than once; every image "
            "may appear in one split list, once."
        )
    missing = [source for source in table["source"] if not (top / source).is_file()]
    if missing:
        raise ValueError(
            f"dataset.labels.lists: {len(missing)} listed image(s) do not exist under "
            f"{root}, e.g. {missing[0]}. Check dataset.labels.root and suffix."
        )
    return table
