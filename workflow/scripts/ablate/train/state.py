"""Resumable progress of one train job, kept outside its declared outputs (Snakemake deletes
those when a job fails): Keras' per-epoch backup, the history so far and the best
checkpoint so far."""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

log = logging.getLogger(__name__)


def best_row(epochs: pd.DataFrame, monitor: str) -> Any:
    """Index of the best epoch: lowest for a loss, highest for an accuracy."""
    values = epochs[monitor]
    return values.idxmin() if monitor.endswith("loss") else values.idxmax()


class TrainingState:
    """Resumable progress of one run: params.yaml, history.csv, best.keras, backup/."""

    def __init__(self, state_dir: str | Path) -> None:
        self.root = Path(state_dir)
        self.params = self.root / "params.yaml"
        self.history = self.root / "history.csv"
        self.best = self.root / "best.keras"
        self.backup = self.root / "backup"

    def resume_point(self, params: Mapping[str, Any], monitor: str) -> tuple[int, float | None]:
        """(epochs already finished, best ``monitor`` value so far); (0, None) to start anew.

        A state left by other settings is discarded; history rows past the last backup
        (written just before a kill) are dropped so the history has no duplicate epochs.
        """
        normalised = yaml.safe_load(yaml.safe_dump(dict(params)))
        if self.root.exists() and (
            not self.params.exists() or yaml.safe_load(self.params.read_text()) != normalised
        ):
            log.info("state in %s is from other settings: starting anew", self.root)
            shutil.rmtree(self.root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.params.write_text(yaml.safe_dump(normalised, sort_keys=False))
        done = self._finished_epochs()
        if done == 0 or not self.history.exists():
            self.history.unlink(missing_ok=True)
            self.best.unlink(missing_ok=True)
            shutil.rmtree(self.backup, ignore_errors=True)
            return 0, None
        rows = pd.read_csv(self.history)
        rows = rows[rows["epoch"] < done]
        rows.to_csv(self.history, index=False)
        return done, float(rows.loc[best_row(rows, monitor), monitor])

    def _finished_epochs(self) -> int:
        """Epochs covered by the backup. A kill while Keras writes its metadata leaves it
        empty: then fall back to the previous backup (BackupAndRestore's double checkpoint,
        which Keras itself only consults when the weights are unreadable)."""
        for suffix in ("", ".bkp"):
            metadata = self.backup / f"training_metadata.json{suffix}"
            try:
                done = int(json.loads(metadata.read_text())["epoch"])
            except (OSError, ValueError, KeyError):
                continue
            if suffix:
                for name in ("training_metadata.json", "latest.weights.h5"):
                    shutil.copyfile(self.backup / f"{name}{suffix}", self.backup / name)
            return done
        return 0

    def discard(self) -> None:
        """Delete the run's state, and the cell's and study's state folders once empty."""
        shutil.rmtree(self.root, ignore_errors=True)
        for folder in (self.root.parent, self.root.parent.parent):
            try:
                folder.rmdir()  # only if empty: other runs may still be in progress
            except OSError:
                break
