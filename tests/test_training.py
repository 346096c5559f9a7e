"""train_cell on a tiny real split: determinism, callbacks, NaN guard, mixing."""

import json
import math

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import tiny_decoded_split

from ablate.config import check_settings
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
    return tiny_decoded_split(tmp_path_factory.mktemp("data"), DATASET)


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


class Scripted:
    """A callback that runs before ablate's own: it replaces each epoch's validation
    metrics with fixed numbers (so which epoch is best is certain, whatever the CPU's
    kernels make of the run) and keeps a copy of the weights at the end of each epoch (to
    tell which epoch a kept model.keras is). Keras counts epochs from 0; after a resume it
    goes on counting where the run stopped."""

    def __init__(self, val_loss, val_accuracy):
        import keras

        self.val_loss, self.val_accuracy, self.weights = val_loss, val_accuracy, {}
        scripted = self

        class Callback(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                logs["val_loss"] = scripted.val_loss[epoch]
                logs["val_accuracy"] = scripted.val_accuracy[epoch]
                scripted.weights[epoch + 1] = [w.copy() for w in self.model.get_weights()]

        self.callback = Callback()

    def epoch_of(self, path):
        """The epoch (from 1) whose weights the model saved at ``path`` holds."""
        import keras

        kept = keras.models.load_model(path).get_weights()
        found = [
            epoch
            for epoch, weights in self.weights.items()
            if all(np.array_equal(a, b) for a, b in zip(kept, weights, strict=True))
        ]
        assert len(found) == 1, f"model.keras matches epochs {found}"
        return found[0]


def poison_weights(epoch):
    """A callback that sets every trainable weight to NaN after the first batch of
    ``epoch`` (from 0), so that the next batch's loss is NaN for certain: the output
    layer's bias makes the logits NaN whatever the kernels do with a NaN (with oneDNN on,
    the default on some CPUs, a NaN first kernel alone left the loss finite)."""
    import keras

    class Poison(keras.callbacks.Callback):
        poisoned = False

        def on_epoch_begin(self, current, logs=None):
            self.current = current

        def on_train_batch_end(self, batch, logs=None):
            if self.current == epoch and not self.poisoned:
                for weights in self.model.trainable_variables:
                    weights.assign(np.full(weights.shape, np.nan, dtype=weights.dtype))
                self.poisoned = True

    return Poison()


def with_callbacks(monkeypatch, first=(), last=()):
    """Run train_cell with ``first`` before its own callbacks and ``last`` after them (after
    the epoch backup)."""
    from ablate.train import training

    own = training.callbacks
    monkeypatch.setattr(
        training, "callbacks", lambda *args, **kwargs: [*first, *own(*args, **kwargs), *last]
    )


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


def test_a_nan_loss_records_a_failed_run_with_its_reason(split, tmp_path, caplog, monkeypatch):
    import keras

    poison_in_epoch_2 = poison_weights(epoch=1)  # Keras counts from 0
    with_callbacks(monkeypatch, last=[poison_in_epoch_2])
    summary, history = train(split, tmp_path, optimizer={"name": "sgd", "learning_rate": 0.01})
    assert poison_in_epoch_2.poisoned
    assert summary["status"] == "failed"
    assert "loss became NaN in epoch 2" in summary["reason"]
    assert "run failed: training loss became NaN" in caplog.text
    recorded = json.loads((tmp_path / "train.json").read_text())
    assert recorded == summary and recorded["epochs_run"] == len(history)
    assert yaml.safe_load((tmp_path / "params.yaml").read_text())["optimizer"]["name"] == "sgd"
    # The kept model is the checkpoint of epoch 1, before the weights were poisoned.
    kept = keras.models.load_model(tmp_path / "model.keras").get_weights()
    assert all(np.isfinite(weights).all() for weights in kept)
    assert not (tmp_path / "state").exists()


def test_out_of_memory_is_recognised_by_the_error_type():
    import tensorflow as tf

    from ablate.train.training import out_of_memory

    assert out_of_memory(tf.errors.ResourceExhaustedError(None, None, "OOM when allocating"))
    assert not out_of_memory(ValueError("shapes do not match"))


def test_mixing_smoothing_and_cosine_schedule_train_end_to_end(split, tmp_path):
    initial, epochs = 0.001, 3
    summary, history = train(
        split, tmp_path, epochs=epochs, optimizer={"name": "adam", "learning_rate": initial},
        mixing={"name": "cutmix", "probability": 0.5}, label_smoothing=0.1,
        schedule={"name": "cosine"}, monitor="val_accuracy",
    )  # fmt: skip
    assert summary["monitor"] == "val_accuracy"
    # The rate logged at the end of epoch e is CosineDecay's after e epochs of batches
    # (alpha 0 by default: from the initial rate down to 0 at the last step).
    expected = [initial * 0.5 * (1 + math.cos(math.pi * e / epochs)) for e in history["epoch"]]
    assert history["learning_rate"].tolist() == pytest.approx(expected, rel=1e-5, abs=1e-9)
    params = yaml.safe_load((tmp_path / "params.yaml").read_text())
    assert params["mixing"] == {"name": "cutmix", "probability": 0.5}
    assert params["label_smoothing"] == 0.1
    assert params["early_stopping"] is None  # defaults are written out too


def test_reduce_lr_on_plateau_lowers_the_rate_after_each_epoch_without_improvement(
    split, tmp_path, monkeypatch
):
    # val_accuracy rises, falls, rises, stays: no improvement after epochs 2 and 4
    scripted = Scripted(val_loss=[1.0] * 4, val_accuracy=[0.5, 0.4, 0.6, 0.6])
    with_callbacks(monkeypatch, first=[scripted.callback])
    _, history = train(
        split, tmp_path, epochs=4, optimizer={"name": "adam", "learning_rate": 0.01},
        reduce_lr_on_plateau={"patience": 0, "factor": 0.5}, monitor="val_accuracy",
    )  # fmt: skip
    # The rate logged for an epoch is the one it trained with; a plateau halves the next.
    assert history["learning_rate"].tolist() == pytest.approx([0.01, 0.01, 0.005, 0.005])


def test_kept_checkpoint_under_val_accuracy_is_the_most_accurate_epoch(
    split, tmp_path, monkeypatch
):
    # The most accurate epoch (3) is neither the one with the lowest loss (4) nor the last.
    scripted = Scripted(val_loss=[2.0, 1.5, 1.1, 0.7, 0.9, 1.0],
                        val_accuracy=[0.3, 0.6, 0.9, 0.5, 0.7, 0.8])  # fmt: skip
    with_callbacks(monkeypatch, first=[scripted.callback])
    summary, history = train(
        split, tmp_path, epochs=6, optimizer={"name": "adam", "learning_rate": 0.05},
        monitor="val_accuracy",
    )  # fmt: skip
    assert history["val_accuracy"].tolist() == scripted.val_accuracy
    assert summary["best_epoch"] == 3
    assert summary["best_val_accuracy"] == 0.9 and summary["best_val_loss"] == 1.1
    assert scripted.epoch_of(tmp_path / "model.keras") == 3


class Killed(BaseException):
    """Stands in for a kill: not an Exception, so train_cell does not handle it."""


def test_a_run_killed_after_an_epoch_resumes_and_keeps_the_best_checkpoint_of_both_parts(
    split, tmp_path, monkeypatch
):
    import keras

    settings = {"epochs": 6, "optimizer": {"name": "adam", "learning_rate": 0.1}}
    # Best before the kill (epoch 2); the resumed epochs 5 and 6 beat every other epoch
    # but that one, so a resume that forgot the best so far would keep epoch 6.
    scripted = Scripted(val_loss=[1.0, 0.5, 0.9, 0.95, 0.7, 0.6], val_accuracy=[0.5] * 6)

    def kill_after_epoch_4(epoch, logs):
        if epoch == 3:  # Keras counts from 0
            raise Killed

    kill = keras.callbacks.LambdaCallback(on_epoch_end=kill_after_epoch_4)
    with monkeypatch.context() as patch:
        with_callbacks(patch, first=[scripted.callback], last=[kill])
        with pytest.raises(Killed):
            train(split, tmp_path, **settings)
    assert not (tmp_path / "model.keras").exists()
    with_callbacks(monkeypatch, first=[scripted.callback])
    summary, history = train(split, tmp_path, **settings)
    assert summary["resumed_after_epoch"] == 4
    assert history["epoch"].tolist() == [1, 2, 3, 4, 5, 6]
    assert history["val_loss"].tolist() == scripted.val_loss
    assert summary["best_epoch"] == 2 and summary["best_val_loss"] == 0.5
    assert scripted.epoch_of(tmp_path / "model.keras") == 2


def evaluate_kept_model(split, folder):
    """(val_loss, val_accuracy) of the run's model.keras on the validation split."""
    import keras

    from ablate.data.pipeline import evaluation_pipeline, split_batches

    model = keras.models.load_model(folder / "model.keras")
    batches, _ = split_batches(arrays(split)["validation"], "validation", BASE["batch_size"])
    loss, accuracy = model.evaluate(evaluation_pipeline(batches, 10), verbose=0)
    return loss, accuracy


@pytest.fixture(scope="module")
def out_of_memory_in_epoch_2(split, tmp_path_factory):
    """A run whose second epoch fails as a GPU allocation does: ResourceExhaustedError."""
    import keras
    import tensorflow as tf

    def exhaust(epoch, logs):
        if epoch == 1:  # the second epoch; Keras counts from 0
            raise tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor")

    folder = tmp_path_factory.mktemp("oom")
    with pytest.MonkeyPatch.context() as patch:
        with_callbacks(patch, last=[keras.callbacks.LambdaCallback(on_epoch_begin=exhaust)])
        summary, history = train(split, folder, epochs=3)
    return folder, summary, history


def test_a_run_out_of_memory_is_recorded_as_failed_with_its_outputs(
    split, out_of_memory_in_epoch_2
):
    folder, summary, history = out_of_memory_in_epoch_2
    assert summary["status"] == "failed"
    assert summary["reason"].startswith("out of memory in epoch")
    assert "ResourceExhaustedError" in summary["reason"]
    assert "Lower the batch size" in summary["reason"]
    assert json.loads((folder / "train.json").read_text()) == summary
    assert history["epoch"].tolist() == [1] and summary["epochs_run"] == 1
    assert yaml.safe_load((folder / "params.yaml").read_text())["epochs"] == 3
    # The kept model is epoch 1's checkpoint, not an empty file.
    loss, _ = evaluate_kept_model(split, folder)
    assert loss == pytest.approx(history["val_loss"].iloc[0], rel=1e-4)
    assert not (folder / "state").exists()


def test_a_run_out_of_memory_names_the_epoch_that_failed(out_of_memory_in_epoch_2):
    _, summary, _ = out_of_memory_in_epoch_2
    assert summary["reason"].startswith("out of memory in epoch 2:")


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


@pytest.mark.no_gpu
def test_auto_precision_is_float32_without_a_gpu(split, tmp_path):
    summary, _ = train(split, tmp_path, epochs=1)
    assert summary["precision"] == "float32" and summary["jit_compile"] is False


@pytest.mark.gpu
def test_auto_precision_turns_on_mixed_float16_and_xla_on_a_gpu(split, tmp_path):
    """Not yet run on a GPU: no GPU was lent to the session that wrote it (issue 16)."""
    import keras

    summary, history = train(split, tmp_path, epochs=1)
    assert summary["precision"] == "mixed_float16" and summary["jit_compile"] is True
    model = keras.models.load_model(tmp_path / "model.keras")
    assert model.get_layer("conv1").dtype_policy.name == "mixed_float16"
    assert history["loss"].notna().all()


def strategies_used(monkeypatch):
    """The tf.distribute strategies train_cell builds, in order."""
    built = []
    original = runtime.distribution

    def recording(gpus_wanted):
        built.append(original(gpus_wanted))
        return built[-1]

    monkeypatch.setattr(runtime, "distribution", recording)
    return built


@pytest.mark.no_gpu
def test_a_cell_asking_for_two_gpus_trains_through_mirrored_strategy(split, tmp_path, monkeypatch):
    """Without a GPU MirroredStrategy runs over the CPU (one replica), so the strategy
    itself is checked; the replica count is checked by the two-GPU test below."""
    import tensorflow as tf

    built = strategies_used(monkeypatch)
    summary, history = train(split, tmp_path / "two", epochs=1, gpus=2)
    assert len(history) == 1 and history["loss"].notna().all()
    one, _ = train(split, tmp_path / "one", epochs=1)
    assert [type(strategy) for strategy in built] == [
        tf.distribute.MirroredStrategy,
        type(tf.distribute.get_strategy()),
    ]
    assert summary["replicas"] == one["replicas"] == 1


@pytest.mark.gpu
def test_a_two_gpu_cell_trains_with_two_replicas(split, tmp_path):
    """Not yet run on a GPU: no GPU was lent to the session that wrote it (issue 16)."""
    from conftest import gpu_count

    if gpu_count() < 2:
        pytest.skip("needs two GPUs")
    summary, history = train(split, tmp_path, epochs=1, gpus=2)
    assert summary["replicas"] == 2
    assert history["loss"].notna().all()
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
