import numpy as np
import pytest

from ablate.results.metrics import score

CLASSES = ["cat", "dog", "fox"]


def one_hot(indices, confidence=0.8):
    probabilities = np.full((len(indices), 3), (1 - confidence) / 2)
    probabilities[np.arange(len(indices)), indices] = confidence
    return probabilities


def test_scores_match_a_hand_computed_example():
    labels = np.array([0, 0, 1, 1, 2, 2])
    predicted = np.array([0, 1, 1, 1, 2, 0])
    result = score(labels, one_hot(predicted), CLASSES)
    assert result.overall["accuracy"] == pytest.approx(4 / 6)
    assert result.overall["images"] == 6
    per_class = result.per_class.set_index("class")
    assert per_class.loc["dog", "precision"] == pytest.approx(2 / 3)
    assert per_class.loc["dog", "recall"] == pytest.approx(1.0)
    assert per_class.loc["fox", "recall"] == pytest.approx(0.5)
    assert per_class["support"].tolist() == [2, 2, 2]
    expected = [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert result.confusion.to_numpy().tolist() == expected
    assert list(result.confusion.columns) == CLASSES
    # cross-entropy: -mean(log p(true class))
    true_probabilities = np.where(predicted == labels, 0.8, 0.1)
    assert result.overall["loss"] == pytest.approx(-np.log(true_probabilities).mean())


def test_a_class_absent_from_the_test_labels_still_gets_a_row():
    result = score(np.array([0, 1]), one_hot(np.array([0, 2])), CLASSES)
    assert result.per_class["class"].tolist() == CLASSES
    assert result.confusion.shape == (3, 3)
    assert result.overall["accuracy"] == pytest.approx(0.5)
