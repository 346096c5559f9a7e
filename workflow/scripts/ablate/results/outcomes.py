"""Every successful run's per-image test outcomes, aligned image by image across runs, so
that cells compare on the same images and seeds (paired)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ablate import status


@dataclass(frozen=True)
class Outcomes:
    """Per (cell, seed): the predicted class index of every test image (images in one
    order for all runs) and the true class indices."""

    images: list[str]
    classes: list[str]
    true: np.ndarray  # images
    predicted: dict[tuple[str, int], np.ndarray]  # (cell, seed) -> images

    def seeds(self, cell: str) -> list[int]:
        return sorted(seed for run_cell, seed in self.predicted if run_cell == cell)

    def correct(self, cell: str, seeds: Sequence[int] | None = None) -> np.ndarray:
        """seeds x images: 1 where the run got the image right."""
        chosen = self.seeds(cell) if seeds is None else list(seeds)
        rows = [self.predicted[(cell, seed)] == self.true for seed in chosen]
        return np.asarray(rows, dtype=np.float64).reshape(len(chosen), len(self.images))

    def predictions(self, cell: str, seeds: Sequence[int] | None = None) -> np.ndarray:
        chosen = self.seeds(cell) if seeds is None else list(seeds)
        return np.asarray([self.predicted[(cell, seed)] for seed in chosen])


def collect_outcomes(
    runs: pd.DataFrame,
    described: Sequence[Mapping[str, Any]],
    prediction_files: Sequence[str | Path],
) -> Outcomes:
    """The outcomes of the runs whose status is OK. ``described[i]`` ({cell, seed, ...})
    names the run of ``prediction_files[i]``; ``runs`` is the aggregate's runs table."""
    succeeded = set(status.ok(runs)[["cell", "seed"]].itertuples(index=False, name=None))
    images: list[str] | None = None
    true_names: np.ndarray | None = None
    named: dict[tuple[str, int], np.ndarray] = {}
    for run, path in zip(described, prediction_files, strict=True):
        key = (run["cell"], int(run["seed"]))
        if key not in succeeded:
            continue
        table = pd.read_csv(path, dtype={"image": str, "true": str, "predicted": str},
                            keep_default_na=False)  # fmt: skip
        if images is None:
            images, true_names = table["image"].tolist(), table["true"].to_numpy()
        elif table["image"].tolist() != images:
            raise ValueError(f"{path}: scored other test images than the study's other runs.")
        named[key] = table["predicted"].to_numpy()
    if images is None:
        return Outcomes([], [], np.empty(0, dtype=int), {})
    classes = sorted(set(true_names) | {name for p in named.values() for name in p})
    index = {name: position for position, name in enumerate(classes)}
    encode = np.vectorize(index.__getitem__, otypes=[int])
    predicted = {key: encode(names) for key, names in named.items()}
    return Outcomes(images, classes, encode(true_names), predicted)
