"""Score a trained model's best checkpoint on the test split."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ablate import status
from ablate.data.split import class_names as read_class_names
from ablate.results.metrics import TestMetrics, score, unscored
from ablate.train import runtime

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
    classes = read_class_names(manifest)
    trained = json.loads(Path(train_summary).read_text()) if train_summary else None
    if trained is not None and not status.succeeded(trained):
        result = unscored(classes)
        reason = trained["reason"]
        overall = {"status": status.FAILED, "reason": reason, **result.overall}
        log.warning("not scored: training failed (%s)", reason)
    else:
        result = _score_model(model_path, test, classes, dataset, batch_size, threads)
        overall = {"status": status.OK, **result.overall}
        log.info("test metrics: %s", overall)
    Path(metrics_path).write_text(json.dumps(overall, indent=2) + "\n")
    result.per_class.to_csv(per_class_path, index=False)
    result.confusion.to_csv(confusion_path)
    return overall


def _score_model(
    model_path: str | Path,
    test: Any,
    classes: list[str],
    dataset: Mapping[str, Any],
    batch_size: int,
    threads: int | None,
) -> TestMetrics:
    runtime.configure(threads=threads, claim=0)  # evaluate claims no GPU: leave them be
    import keras

    import ablate.train.layers  # noqa: F401  (registers custom layers that saved models use)
    from ablate.data.pipeline import evaluation_pipeline, split_batches

    model = keras.models.load_model(model_path)
    batches, _ = split_batches(test, "test", batch_size, None, classes, dataset)
    labels = np.concatenate([batch_labels for _, batch_labels in batches.as_numpy_iterator()])
    probabilities = model.predict(evaluation_pipeline(batches), verbose=0)
    return score(labels, probabilities, classes)
