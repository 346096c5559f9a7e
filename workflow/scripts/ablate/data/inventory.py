"""Every file under a data set's folder, walked once the way ablate reads it.

Symbolic links are followed, as Keras' ``image_dataset_from_directory`` and torchvision's
``ImageFolder`` follow them, with a guard against links back to an enclosing folder.
Hidden entries (a leading '.') are reported, not entered: a '.git' folder is one line of
the inventory, not thousands. The fingerprint of a 'dir:' source is built from the same
walk, so what decides "the source changed" is exactly what the split reads.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

INVENTORY_COLUMNS = ["source", "status", "class", "split", "file", "reason"]
STATUSES = ("used", "converted", "quarantined", "ignored")


@dataclass(frozen=True)
class Entry:
    """One thing found under the top folder: a file (``problem`` None) or something
    that cannot be read as one (hidden, a link loop, a broken link)."""

    path: str  # relative to the top folder, '/'-separated
    problem: str | None = None
    loop_to: str | None = None  # for a link loop: the enclosing folder it points back to


def walk(top: str | Path) -> Iterator[Entry]:
    """Everything under ``top`` in sorted order, following symbolic links."""
    top = Path(top)
    yield from _walk(top, "", {_identity(top): ""})


def _identity(path: Path | os.DirEntry) -> tuple[int, int]:
    stat = path.stat()  # follows links: a folder reached twice has one identity
    return stat.st_dev, stat.st_ino


def _walk(folder: Path, prefix: str, ancestors: dict[tuple[int, int], str]) -> Iterator[Entry]:
    with os.scandir(folder) as scan:
        entries = sorted(scan, key=lambda entry: entry.name)
    for entry in entries:
        relative = prefix + entry.name
        try:
            is_dir = entry.is_dir()  # follows links
            is_file = not is_dir and entry.is_file()
        except OSError as error:  # a link loop made of links to links, permissions
            yield Entry(relative, f"cannot be read: {error.strerror}")
            continue
        if entry.name.startswith("."):
            yield Entry(relative + "/" if is_dir else relative, "hidden")
        elif is_dir:
            identity = _identity(entry)
            if identity in ancestors:
                back = ancestors[identity]
                yield Entry(relative + "/", f"link loop back to {back or 'the top'}/", back)
                continue
            yield from _walk(Path(entry.path), relative + "/", {**ancestors, identity: relative})
        elif is_file:
            yield Entry(relative)
        elif entry.is_symlink():
            yield Entry(relative, f"broken symbolic link to {os.readlink(entry.path)}")
        else:
            yield Entry(relative, "not a regular file")


def fingerprint(top: str | Path) -> str:
    """'<n> files, <sha256>' over the names, sizes and modification times of the visible
    files under ``top`` (hidden ones never enter a study, so their changes do not count).

    Cheap enough to run every time a workflow is planned: one stat per file, no reads.
    """
    digest, count = hashlib.sha256(), 0
    top = Path(top)
    for entry in walk(top):
        if entry.problem is None:
            stat = (top / entry.path).stat()
            digest.update(f"{entry.path}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
            count += 1
        elif entry.problem != "hidden":
            digest.update(f"{entry.path}\0{entry.problem}\n".encode())
    return f"{count} files, sha256 {digest.hexdigest()}"


def inventory(
    manifest: pd.DataFrame,
    converted: pd.DataFrame,
    quarantined: pd.DataFrame,
    ignored: pd.DataFrame,
) -> pd.DataFrame:
    """One row per file under the data set: where it went and why.

    ``manifest`` rows carry their ``source``; ``converted`` lists the sources converted
    (with the reason); ``quarantined`` and ``ignored`` have ``source`` and ``reason``.
    """
    why = dict(zip(converted["source"], converted["convert"], strict=True))
    used = manifest.assign(
        status=manifest["source"].map(lambda source: "converted" if source in why else "used"),
        reason=manifest["source"].map(lambda source: why.get(source, "")),
    )
    rows = pd.concat(
        [
            used,
            quarantined.assign(status="quarantined"),
            ignored.assign(status="ignored"),
        ],
        ignore_index=True,
    )
    rows = rows.reindex(columns=INVENTORY_COLUMNS).fillna("")
    return rows.sort_values("source", kind="stable").reset_index(drop=True)


def counts(table: pd.DataFrame) -> str:
    """'12 used, 1 converted, 2 quarantined, 3 ignored'."""
    tally = table["status"].value_counts()
    return ", ".join(f"{tally.get(status, 0)} {status}" for status in STATUSES)
