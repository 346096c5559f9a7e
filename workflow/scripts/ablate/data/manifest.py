"""The split manifest: one row per image with its class and split. Kept apart from
ablate.data.split so that train and evaluate jobs, which only read it, do not import what
splitting needs (scikit-learn: about 2 s of every job's start-up)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

MANIFEST_COLUMNS = ["file", "class", "split", "sha256", "width", "height"]


def read_manifest(path: str | Path) -> pd.DataFrame:
    """A split manifest with every name as text: a class named 'NA', 'None' or 'null'
    stays a class, never a missing value."""
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    return table.astype({"width": int, "height": int})


def class_names(manifest_path: str | Path) -> list[str]:
    """The classes of a split manifest, sorted: index i of a model's output is class i."""
    return sorted(read_manifest(manifest_path)["class"].unique())
