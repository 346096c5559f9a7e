"""Score a trained model's best checkpoint on the test split."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ablate import status
from ablate.data.manifest import class_names as read_class_names
from ablate.data.manifest import read_manifest
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
    predictions_path: str | Path,
    threads: int | None = None,
    train_summary: str | Path | None = None,
) -> dict[str, Any]:
    """Write overall metrics, per-class scores, the confusion matrix and every test image's
    prediction (so that cells can be compared image by image). A run whose training
    failed (``train_summary`` says so) is not scored: its metrics are empty and carry the
    reason, so the aggregate can mark it."""
    classes = read_class_names(manifest)
    trained = json.loads(Path(train_summary).read_text()) if train_summary else None
    if trained is not None and not status.succeeded(trained):
        result, predictions = unscored(classes), pd.DataFrame(columns=PREDICTION_COLUMNS)
        reason = trained["reason"]
        overall = {"status": status.FAILED, "reason": reason, **result.overall}
        log.warning("not scored: training failed (%s)", reason)
    else:
        result, predictions = _score_model(
            model_path, test, manifest, classes, dataset, batch_size, threads
        )
        overall = {"status": status.OK, **result.overall}
        log.info("test metrics: %s", overall)
    Path(metrics_path).write_text(json.dumps(overall, indent=2) + "\n")
    result.per_class.to_csv(per_class_path, index=False)
    result.confusion.to_csv(confusion_path)
    predictions.to_csv(predictions_path, index=False)
    return overall


def _score_model(
    model_path: str | Path,
    test: Any,
    manifest: str | Path,
    classes: list[str],
    dataset: Mapping[str, Any],
    batch_size: int,
    threads: int | None,
) -> tuple[TestMetrics, pd.DataFrame]:
    runtime.configure(threads=threads, claim=0)  # evaluate claims no GPU: leave them be
    import keras

    import ablate.train.layers  # noqa: F401  (registers custom layers that saved models use)
    from ablate.data.pipeline import evaluation_pipeline, split_batches

    model = keras.models.load_model(model_path)
    batches, _ = split_batches(test, "test", batch_size, None, classes, dataset)
    labels = np.concatenate([batch_labels for _, batch_labels in batches.as_numpy_iterator()])
    probabilities = model.predict(evaluation_pipeline(batches), verbose=0)
    files = _test_files(test, manifest, batches)
    return score(labels, probabilities, classes), predictions(files, labels, probabilities, classes)


PREDICTION_COLUMNS = ["image", "true", "predicted", "p_true"]


def predictions(
    files: Sequence[str], labels: np.ndarray, probabilities: np.ndarray, classes: Sequence[str]
) -> pd.DataFrame:
    """One row per test image: its file (as in the manifest), true and predicted class, and
    the probability the model gave the true class; sorted by file, so that every run of a
    study lists the same images in the same order."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    names = np.asarray(classes, dtype=object)
    table = pd.DataFrame(
        {
            "image": list(files),
            "true": names[labels],
            "predicted": names[probabilities.argmax(axis=1)],
            "p_true": probabilities[np.arange(len(labels)), labels],
        }
    )
    return table.sort_values("image", ignore_index=True)


def _test_files(test: Any, manifest: str | Path, batches: Any) -> list[str]:
    """The test images in the order they were scored: the manifest's order for the decoded
    arrays, Keras' file order when read from the split folder."""
    if isinstance(test, str | Path):
        return [os.path.relpath(path, test) for path in batches.file_paths]
    table = read_manifest(manifest)
    return table.loc[table["split"] == "test", "file"].tolist()
