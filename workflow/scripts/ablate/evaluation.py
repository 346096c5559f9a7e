"""Score a trained model's best checkpoint on the test split."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ablate import runtime
from ablate.metrics import score
from ablate.split import class_names as read_class_names

log = logging.getLogger(__name__)


def evaluate_model(
    *,
    model_path: str | Path,
    test: Any,
    manifest: str | Path,
    dataset: Mapping[str, Any],
    batch_size: int,
    metrics_path: str | Path,
    per_class_path: str | Path,
    confusion_path: str | Path,
    threads: int | None = None,
    train_summary: str | Path | None = None,
) -> dict[str, Any]:
    """Write overall metrics, per-class scores and the confusion matrix. A run whose
    training failed (``train_summary`` says so) is not scored: its metrics are empty and
    carry the reason, so the aggregate can mark it."""
    if train_summary is not None:
        trained = json.loads(Path(train_summary).read_text())
        if trained.get("status", "ok") != "ok":
            return not_scored(trained, manifest, metrics_path, per_class_path, confusion_path)
    runtime.configure(threads=threads, claim=0)  # evaluate claims no GPU: leave them be
    import keras

    import ablate.layers  # noqa: F401  (registers custom layers that saved models use)
    from ablate.data import evaluation_pipeline, split_batches

    classes = read_class_names(manifest)
    model = keras.models.load_model(model_path)
    batches, _ = split_batches(test, "test", batch_size, None, classes, dataset)
    labels = np.concatenate([batch_labels for _, batch_labels in batches.as_numpy_iterator()])
    probabilities = model.predict(evaluation_pipeline(batches), verbose=0)
    result = score(labels, probabilities, classes)
    overall = {"status": "ok", **result.overall}
    Path(metrics_path).write_text(json.dumps(overall, indent=2) + "\n")
    result.per_class.to_csv(per_class_path, index=False)
    result.confusion.to_csv(confusion_path)
    log.info("test metrics: %s", overall)
    return overall


def not_scored(
    trained: Mapping[str, Any],
    manifest: str | Path,
    metrics_path: str | Path,
    per_class_path: str | Path,
    confusion_path: str | Path,
) -> dict[str, Any]:
    classes = read_class_names(manifest)
    overall = {"status": "failed", "reason": trained.get("reason", "training failed"),
               "accuracy": None, "loss": None, "macro_f1": None, "images": 0}  # fmt: skip
    Path(metrics_path).write_text(json.dumps(overall, indent=2) + "\n")
    columns = ["class", "precision", "recall", "f1", "support"]
    pd.DataFrame(columns=columns).to_csv(per_class_path, index=False)
    pd.DataFrame(index=pd.Index(classes), columns=classes).to_csv(confusion_path)
    log.warning("not scored: training failed (%s)", overall["reason"])
    return overall
