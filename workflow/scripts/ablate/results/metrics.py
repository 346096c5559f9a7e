"""Test-set metrics from predicted class probabilities (scikit-learn, no TensorFlow)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    log_loss,
    precision_recall_fscore_support,
)

PER_CLASS_COLUMNS = ["class", "precision", "recall", "f1", "support"]


@dataclass
class TestMetrics:
    overall: dict[str, float]  # accuracy, loss, macro F1, number of images
    per_class: pd.DataFrame  # class, precision, recall, f1, support
    confusion: pd.DataFrame  # rows: true class, columns: predicted class


def score(labels: np.ndarray, probabilities: np.ndarray, class_names: Sequence[str]) -> TestMetrics:
    """Accuracy, cross-entropy, per-class precision/recall/F1 and the confusion matrix."""
    labels = np.asarray(labels)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    indices = list(range(len(class_names)))
    predicted = probabilities.argmax(axis=1)
    precision, recall, f1, support = precision_recall_fscore_support(
        labels, predicted, labels=indices, zero_division=0
    )
    overall = {
        "accuracy": float(accuracy_score(labels, predicted)),
        "loss": float(log_loss(labels, probabilities, labels=indices)),
        "macro_f1": float(
            f1_score(labels, predicted, labels=indices, average="macro", zero_division=0)
        ),
        "images": len(labels),
    }
    values = [list(class_names), precision, recall, f1, support]
    per_class = pd.DataFrame(dict(zip(PER_CLASS_COLUMNS, values, strict=True)))
    confusion = _confusion(confusion_matrix(labels, predicted, labels=indices), class_names)
    return TestMetrics(overall, per_class, confusion)


def unscored(class_names: Sequence[str]) -> TestMetrics:
    """What a run that could not be scored (its training failed) reports: no values, in
    the same layout as ``score``'s."""
    overall = {"accuracy": None, "loss": None, "macro_f1": None, "images": 0}
    per_class = pd.DataFrame(columns=PER_CLASS_COLUMNS)
    return TestMetrics(overall, per_class, _confusion(None, class_names))


def _confusion(counts: np.ndarray | None, class_names: Sequence[str]) -> pd.DataFrame:
    """Rows: true class, columns: predicted class (empty cells when ``counts`` is None)."""
    return pd.DataFrame(counts, index=pd.Index(class_names, name="true"), columns=list(class_names))
