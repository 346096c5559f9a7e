"""train_cell on a tiny real split: determinism, callbacks, NaN guard, mixing."""

import json

import pandas as pd
import pytest
import yaml

from ablate.config import check_settings
from ablate.data.arrays import decode_split
from ablate.data.sources import fetch
from ablate.data.split import SPLITS, split_dataset
from ablate.train import runtime
from ablate.train.training import train_cell

runtime.configure()

BASE = {
    "model": {"name": "small_convnet", "filters": [4, 8], "dense_units": 16},
    "batch_size": 16,
    "epochs": 3,
}
DATASET = {"image_size": [16, 16], "color_mode": "grayscale"}


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    fetch("builtin:digits", root / "raw")
    split = {"by": "fractions", "train": 0.7, "validation": 0.15, "test": 0.15, "seed": 1,
             "max_per_class": 15}  # fmt: skip
    split_dataset(root / "raw", root / "split", root / "manifest.csv", split)
    for name in SPLITS:
        decode_split(
            split_dir=root / "split", manifest=root / "manifest.csv", split=name,
            images_path=root / f"{name}-images.npy", labels_path=root / f"{name}-labels.npy",
            **DATASET,
        )  # fmt: skip
    return root


def arrays(root, splits=("train", "validation")):
    return {name: (root / f"{name}-images.npy", root / f"{name}-labels.npy") for name in splits}


def train(split, folder, seed=1, **overrides):
    # The schema's defaults filled in, as the Snakefile does.
    settings = check_settings({**BASE, **overrides}, "test").as_dict()
    folder.mkdir(parents=True, exist_ok=True)
    summary = train_cell(
        inputs=arrays(split), manifest=split / "manifest.csv", settings=settings,
        dataset=DATASET, seed=seed, model_path=folder / "model.keras",
        history_path=folder / "history.csv", params_path=folder / "params.yaml",
        summary_path=folder / "train.json", state_dir=folder / "state",
    )  # fmt: skip
    return summary, pd.read_csv(folder / "history.csv")


def test_same_seed_same_metrics_twice(split, tmp_path):
    augmentation = [{"name": "random_rotation", "factor": 0.05}]
    first = train(split, tmp_path / "a", augmentation=augmentation)
    second = train(split, tmp_path / "b", augmentation=augmentation)
    other_seed = train(split, tmp_path / "c", seed=2, augmentation=augmentation)
    columns = ["loss", "accuracy", "val_loss", "val_accuracy"]
    pd.testing.assert_frame_equal(first[1][columns], second[1][columns])
    assert first[0]["best_val_loss"] == second[0]["best_val_loss"]
    assert not first[1][columns].equals(other_seed[1][columns])


def test_early_stopping_ends_the_run_and_records_epochs(split, tmp_path):
    summary, history = train(
        split, tmp_path, epochs=10, early_stopping={"patience": 0, "min_delta": 100.0}
    )
    # epoch 1 sets the reference; epoch 2 cannot improve on it by 100, so training stops
    assert summary["epochs_run"] == len(history) == 2
    assert json.loads((tmp_path / "train.json").read_text())["epochs_run"] == 2
    assert summary["status"] == "ok" and summary["splits_read"] == ["train", "validation"]


def test_a_nan_loss_records_a_failed_run_with_its_reason(split, tmp_path, caplog):
    import keras

    summary, history = train(split, tmp_path, optimizer={"name": "sgd", "learning_rate": 1e12})
    assert summary["status"] == "failed"
    assert "loss became NaN in epoch" in summary["reason"]
    assert "run failed: training loss became NaN" in caplog.text
    recorded = json.loads((tmp_path / "train.json").read_text())
    assert recorded == summary and recorded["epochs_run"] == len(history)
    assert yaml.safe_load((tmp_path / "params.yaml").read_text())["optimizer"]["name"] == "sgd"
    keras.models.load_model(tmp_path / "model.keras")  # the model as it stood, readable
    assert not (tmp_path / "state").exists()


def test_out_of_memory_is_recognised_by_the_error_type():
    import tensorflow as tf

    from ablate.train.training import out_of_memory

    assert out_of_memory(tf.errors.ResourceExhaustedError(None, None, "OOM when allocating"))
    assert not out_of_memory(ValueError("shapes do not match"))


def test_mixing_smoothing_schedule_and_plateau_train_end_to_end(split, tmp_path):
    summary, history = train(
        split, tmp_path / "mix", mixing={"name": "cutmix", "probability": 0.5},
        label_smoothing=0.1, schedule={"name": "cosine"}, monitor="val_accuracy",
    )  # fmt: skip
    assert summary["monitor"] == "val_accuracy"
    assert summary["best_epoch"] == history.loc[history["val_accuracy"].idxmax(), "epoch"]
    assert history["learning_rate"].is_monotonic_decreasing
    params = yaml.safe_load((tmp_path / "mix" / "params.yaml").read_text())
    assert params["mixing"] == {"name": "cutmix", "probability": 0.5}
    assert params["early_stopping"] is None  # defaults are written out too

    _, history = train(
        split, tmp_path / "plateau", epochs=4, optimizer={"name": "adam", "learning_rate": 0.01},
        reduce_lr_on_plateau={"patience": 0, "factor": 0.5}, monitor="val_accuracy",
    )  # fmt: skip
    assert history["learning_rate"].iloc[-1] <= 0.01


def state_with_history(root, val_losses):
    from ablate.train.state import TrainingState

    state = TrainingState(root)
    state.resume_point({"a": 1}, "val_loss")  # a fresh state for settings {"a": 1}
    state.backup.mkdir()
    pd.DataFrame({"epoch": range(len(val_losses)), "val_loss": val_losses}).to_csv(
        state.history, index=False
    )
    return state


def test_resume_point_drops_history_past_the_backup_and_survives_an_empty_metadata(tmp_path):
    state = state_with_history(tmp_path / "s", [0.9, 0.5, 0.7, 0.2])
    (state.backup / "training_metadata.json").write_text("")  # killed while writing it
    (state.backup / "training_metadata.json.bkp").write_text('{"epoch": 3, "batch": 0}')
    (state.backup / "latest.weights.h5.bkp").write_bytes(b"weights of epoch 3")
    assert state.resume_point({"a": 1}, "val_loss") == (3, 0.5)
    assert pd.read_csv(state.history)["epoch"].tolist() == [0, 1, 2]
    assert (state.backup / "latest.weights.h5").read_bytes() == b"weights of epoch 3"


def test_resume_point_starts_anew_for_other_settings(tmp_path):
    state = state_with_history(tmp_path / "s", [0.9, 0.5])
    (state.backup / "training_metadata.json").write_text('{"epoch": 2, "batch": 0}')
    assert state.resume_point({"a": 1}, "val_loss") == (2, 0.5)
    assert state.resume_point({"a": 2}, "val_loss") == (0, None)
    assert not state.history.exists() and not state.backup.exists()


def test_mixed_precision_and_xla_switches_work_on_a_cpu(split, tmp_path):
    import keras

    summary, history = train(split, tmp_path, epochs=1, precision="mixed_float16", jit_compile=True)
    assert summary["precision"] == "mixed_float16" and summary["jit_compile"] is True
    model = keras.models.load_model(tmp_path / "model.keras")
    assert model.get_layer("conv1").dtype_policy.name == "mixed_float16"
    assert model.get_layer("classes").dtype_policy.name == "float32"
    assert keras.mixed_precision.global_policy().name == "float32"  # restored
    assert history["loss"].notna().all()


def test_auto_precision_is_float32_without_a_gpu(split, tmp_path):
    summary, _ = train(split, tmp_path, epochs=1)
    assert summary["precision"] == "float32" and summary["jit_compile"] is False


def test_a_cell_asking_for_two_gpus_trains_through_mirrored_strategy(split, tmp_path):
    summary, history = train(split, tmp_path, epochs=1, gpus=2)
    assert summary["replicas"] == 1  # no GPU here: MirroredStrategy over the CPU
    assert len(history) == 1 and history["loss"].notna().all()
    assert train(split, tmp_path / "one", epochs=1)[0]["replicas"] == 1


def test_decoding_every_epoch_trains_from_the_split_folder(split, tmp_path):
    settings = check_settings({**BASE, "epochs": 1}, "test").as_dict()
    summary = train_cell(
        inputs={"train": split / "split", "validation": split / "split"},
        manifest=split / "manifest.csv", settings=settings, dataset=DATASET, seed=1,
        model_path=tmp_path / "model.keras", history_path=tmp_path / "history.csv",
        params_path=tmp_path / "params.yaml", summary_path=tmp_path / "train.json",
        state_dir=tmp_path / "state",
    )  # fmt: skip
    manifest = pd.read_csv(split / "manifest.csv")
    assert summary["train_images"] == (manifest["split"] == "train").sum()
    assert summary["epochs_run"] == 1 and (tmp_path / "model.keras").stat().st_size > 0
