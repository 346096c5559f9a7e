"""Augmentation placement (tf.data or the model's front) and optional TensorBoard logs."""

import json

import keras
import numpy as np
import pandas as pd
import pytest
from conftest import tiny_decoded_split

from ablate.config import check_settings
from ablate.data import pipeline
from ablate.results.evaluation import evaluate_model
from ablate.train import runtime
from ablate.train.models import build_model
from ablate.train.training import augmentation_placement, train_cell

runtime.configure()

MODEL = {"name": "small_convnet", "filters": [4, 8], "dense_units": 16}
AUGMENTATION = [
    {"name": "random_flip", "mode": "horizontal"},
    {"name": "random_affine", "rotation_factor": 0.05, "zoom_height_factor": 0.1},
]
DATASET = {"image_size": [16, 16], "color_mode": "grayscale"}


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    return tiny_decoded_split(tmp_path_factory.mktemp("data"), DATASET)


def arrays(root, name):
    return (root / f"{name}-images.npy", root / f"{name}-labels.npy")


def train(split, folder, **overrides):
    settings = {"model": MODEL, "augmentation": AUGMENTATION, "batch_size": 16, "epochs": 2}
    settings = check_settings({**settings, **overrides}, "test").as_dict()
    folder.mkdir(parents=True, exist_ok=True)
    return train_cell(
        inputs={name: arrays(split, name) for name in ("train", "validation")},
        manifest=split / "manifest.csv", settings=settings, dataset=DATASET, seed=1,
        model_path=folder / "model.keras", history_path=folder / "history.csv",
        params_path=folder / "params.yaml", summary_path=folder / "train.json",
        state_dir=folder / "state", description={"study": "s", "cell": "c"},
    )  # fmt: skip


def evaluate(split, model_path, folder):
    folder.mkdir(parents=True, exist_ok=True)
    metrics = evaluate_model(
        model_path=model_path, test=arrays(split, "test"), manifest=split / "manifest.csv",
        dataset=DATASET, batch_size=16, metrics_path=folder / "metrics.json",
        per_class_path=folder / "per_class.csv", confusion_path=folder / "confusion.csv",
        predictions_path=folder / "predictions.csv",
    )  # fmt: skip
    return metrics, pd.read_csv(folder / "predictions.csv")


def test_auto_places_augmentation_in_the_model_only_on_a_gpu():
    assert augmentation_placement("auto", on_gpu=True) == "model"
    assert augmentation_placement("auto", on_gpu=False) == "data"
    assert augmentation_placement("data", on_gpu=True) == "data"
    assert augmentation_placement("model", on_gpu=False) == "model"


def test_both_placements_train_and_the_models_checkpoint_scores_as_its_bare_network(
    split, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)  # where the default TensorBoard folder would appear
    fed = {}  # placement -> the augmentation the input pipeline was given
    build_pipeline = pipeline.training_pipeline

    def training_pipeline(batches, num_classes, augmentation=None, mixing=None):
        fed[placement] = augmentation
        return build_pipeline(batches, num_classes, augmentation, mixing)

    monkeypatch.setattr(pipeline, "training_pipeline", training_pipeline)
    runs = {}
    for placement in ("model", "data"):
        summary = train(split, tmp_path / placement, augmentation_placement=placement)
        assert summary["status"] == "ok" and summary["epochs_run"] == 2
        recorded = json.loads((tmp_path / placement / "train.json").read_text())
        assert recorded["augmentation_placement"] == placement
        runs[placement] = keras.models.load_model(tmp_path / placement / "model.keras")
    # In the model the augmentation is its first layer, in the data path the pipeline's.
    assert fed["model"] is None and fed["data"].name == "augmentation"
    assert [layer.name for layer in runs["model"].layers[1:]] == ["augmentation", "small_convnet"]
    assert "augmentation" not in [layer.name for layer in runs["data"].layers]
    assert runs["model"].count_params() == runs["data"].count_params()
    # The same weights without the augmentation layers score exactly as the checkpoint.
    bare = build_model(MODEL, (16, 16, 1), 10)
    bare.set_weights(runs["model"].get_layer("small_convnet").get_weights())
    bare.save(tmp_path / "bare.keras")
    with_layers = evaluate(split, tmp_path / "model" / "model.keras", tmp_path / "eval-model")
    without = evaluate(split, tmp_path / "bare.keras", tmp_path / "eval-bare")
    assert with_layers[0] == without[0]
    pd.testing.assert_frame_equal(with_layers[1], without[1])
    images = np.load(arrays(split, "test")[0]).astype("float32")
    np.testing.assert_array_equal(
        runs["model"].predict(images, verbose=0), bare.predict(images, verbose=0)
    )
    assert not (tmp_path / "results").exists(), "no TensorBoard logs unless asked for"


def test_tensorboard_logs_each_epoch_when_asked_for(split, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    train(split, tmp_path / "run", tensorboard=True)
    folder = tmp_path / "results" / "s" / "tensorboard" / "c" / "seed-1"
    events = sorted(folder.glob("**/events.out.tfevents.*"))
    assert {event.parent.name for event in events} == {"train", "validation"}
    import tensorflow as tf

    validation = next(event for event in events if event.parent.name == "validation")
    steps = [
        event.step
        for event in tf.compat.v1.train.summary_iterator(str(validation))
        for value in event.summary.value
        if value.tag == "epoch_loss"
    ]
    assert steps == [0, 1]  # one scalar per epoch
