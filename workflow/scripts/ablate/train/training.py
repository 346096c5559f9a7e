"""Train one cell with one seed: best checkpoint, history, timings, resumable.

Progress lives in a state folder outside the step's declared outputs (Snakemake deletes
those when a job fails): the per-epoch backup of Keras' BackupAndRestore, the history so
far and the best checkpoint so far. A job killed mid-run and started again resumes after
its last finished epoch; the outputs are written only once training is complete.

A run that fails for a reason that belongs to its cell (the loss diverged to NaN, the model
does not fit in memory) is a result of the ablation, not a broken job: its outputs are
written with status "failed" and the reason, so the other cells and the aggregate go on and
the summary marks it. Anything else (bad data, a kill, a full disk) fails the job as usual.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import json
import logging
import math
import shutil
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from ablate import paths, provenance, status
from ablate.data.manifest import class_names as read_class_names
from ablate.settings import CellSettings, run_params
from ablate.train import runtime, user_models
from ablate.train.state import TrainingState, best_row

log = logging.getLogger(__name__)


def input_shape(image_size: Sequence[int], color_mode: str) -> tuple[int, int, int]:
    return (int(image_size[0]), int(image_size[1]), 1 if color_mode == "grayscale" else 3)


def train_cell(
    *,
    inputs: Mapping[str, Any],
    manifest: str | Path,
    settings: Mapping[str, Any],
    dataset: Mapping[str, Any],
    seed: int,
    model_path: str | Path,
    history_path: str | Path,
    params_path: str | Path,
    summary_path: str | Path,
    state_dir: str | Path,
    threads: int | None = None,
    description: Mapping[str, Any] | None = None,
    tensorboard_dir: str | Path | None = None,
    runs_per_gpu: int = 1,
    gpu_memory_mb: int | None = None,
) -> dict[str, Any]:
    """Train (or resume), then write the best checkpoint, history, params and a summary.

    ``inputs`` maps train and validation to their (images, labels) array files (see
    ablate.data.arrays) or to the split folder; ``settings`` is a cell's fully resolved
    training setup (``CellSettings.as_dict()``); ``dataset`` holds image_size and
    color_mode. ``description`` (study, cell, factor levels) is copied into params.yaml.
    ``tensorboard_dir``: where a cell with ``tensorboard: true`` logs (default: the
    study's ``paths.TENSORBOARD`` of the description's study and cell).
    ``runs_per_gpu`` and ``gpu_memory_mb``: the study's GPU sharing (its ``resources``).
    """
    cell = CellSettings.from_mapping(settings)
    runtime.configure(seed=seed, threads=threads, claim=cell.gpus,
                      runs_per_gpu=runs_per_gpu, gpu_memory_mb=gpu_memory_mb)  # fmt: skip
    import keras

    from ablate.data.pipeline import evaluation_pipeline, split_batches, training_pipeline
    from ablate.train.augmentation import build_augmentation, build_mixing, with_augmentation
    from ablate.train.models import build_model
    from ablate.train.optimizers import build_optimizer

    params = run_params(description or {}, seed, dataset, cell.as_dict())
    classes = read_class_names(manifest)
    shape = input_shape(dataset["image_size"], dataset["color_mode"])
    monitor = cell.monitor

    def batches(split: str, seed: int | None = None) -> tuple[Any, int]:
        return split_batches(inputs[split], split, cell.batch_size, seed, classes, dataset)

    train_batches, num_train = batches("train", seed)
    if (found := tuple(train_batches.element_spec[0].shape[1:])) != shape:
        raise ValueError(
            f"{inputs['train']} holds images of {found}, not {shape}: the decode step is "
            "out of date; delete the array files and run again."
        )
    steps_per_epoch = math.ceil(num_train / cell.batch_size)
    on_gpu = bool(runtime.gpus())
    placement = augmentation_placement(cell.augmentation_placement, on_gpu)
    strategy = runtime.distribution(cell.gpus)
    # Build everything that a config can get wrong before the first epoch. In the model,
    # the layers' random state is a variable of the strategy's replicas.
    with strategy.scope() if placement == "model" else contextlib.nullcontext():
        augmentation = build_augmentation(cell.augmentation, seed)
    mixing = build_mixing(cell.mixing, seed)
    precision = cell.precision
    precision = ("mixed_float16" if on_gpu else "float32") if precision == "auto" else precision
    jit_compile = on_gpu if cell.jit_compile == "auto" else cell.jit_compile
    with runtime.dtype_policy(precision), strategy.scope():
        model = build_model(cell.model, shape, len(classes))
        if placement == "model" and augmentation is not None:
            model = with_augmentation(model, augmentation)
        model.compile(
            jit_compile=jit_compile,
            optimizer=build_optimizer(cell.optimizer, cell.schedule, steps_per_epoch, cell.epochs),
            loss=keras.losses.CategoricalCrossentropy(label_smoothing=cell.label_smoothing),
            metrics=["accuracy"],
        )
    log.info(
        "model %s: %d parameters, %d replica(s)",
        model.name, model.count_params(), strategy.num_replicas_in_sync,
    )  # fmt: skip

    in_pipeline = augmentation if placement == "data" else None
    train = training_pipeline(train_batches, len(classes), in_pipeline, mixing)
    validation = evaluation_pipeline(batches("validation")[0], len(classes))

    state = TrainingState(state_dir)
    done, best_so_far = state.resume_point(params, monitor)
    if done:
        log.info("resuming after epoch %d (best %s so far: %s)", done, monitor, best_so_far)
    name = cell.model["name"]
    own = [user_models.model_file(name)] if user_models.is_own(name) else []
    outputs = RunOutputs(model_path, history_path, params_path, summary_path, tuple(own))
    tensorboard = tensorboard_folder(params, tensorboard_dir) if cell.tensorboard else None
    started = time.perf_counter()
    try:
        history = model.fit(
            train,
            validation_data=validation,
            epochs=cell.epochs,
            shuffle=False,  # the pipeline reshuffles every epoch itself
            callbacks=callbacks(model, cell, state, best_so_far, tensorboard),
            verbose=2,
        )
    except Exception as error:
        if not out_of_memory(error):
            raise
        finished = len(pd.read_csv(state.history)) if state.history.exists() else 0
        reason = (
            f"out of memory in epoch {finished + 1}: {type(error).__name__}. Lower the batch "
            "size or the image size, or ask for a GPU with more memory."
        )
        return outputs.failed(reason, params, state, model, done)
    seconds = time.perf_counter() - started
    losses = history.history.get("loss", [])
    if not all(math.isfinite(loss) for loss in losses):
        reason = (
            f"training loss became NaN in epoch {done + len(losses)} and TerminateOnNaN "
            "stopped the run: lower the learning rate, or check the data and augmentation."
        )
        return outputs.failed(reason, params, state, model, done)
    if not state.best.exists():
        raise RuntimeError(f"no checkpoint was written: {monitor} was never a number.")

    epochs = pd.read_csv(state.history)
    best = best_row(epochs, monitor)
    summary = {
        "status": status.OK,
        "best_epoch": int(epochs.loc[best, "epoch"]) + 1,  # Keras counts from 0 internally
        "epochs_run": len(epochs),
        "resumed_after_epoch": done,
        "monitor": monitor,
        "best_val_loss": float(epochs.loc[best, "val_loss"]),
        "best_val_accuracy": float(epochs.loc[best, "val_accuracy"]),
        "train_seconds": seconds,
        "images_per_second": num_train * len(losses) / seconds,
        "train_images": num_train,
        "num_params": int(model.count_params()),
        "precision": precision,
        "jit_compile": jit_compile,
        "augmentation_placement": placement,
        "replicas": int(strategy.num_replicas_in_sync),
        # What model selection saw: the aggregate warns if the test split is ever among it.
        "splits_read": sorted(inputs),
    }
    outputs.write(state.best, state.history, params, summary)
    state.discard()
    log.info("done: %s", summary)
    return summary


def augmentation_placement(setting: str, on_gpu: bool) -> str:
    """Where augmentation runs: ``model`` (on the device that trains) or ``data`` (tf.data,
    on the CPU); ``auto`` picks the model on a GPU, whose input cores would starve it."""
    if setting == "auto":
        return "model" if on_gpu else "data"
    return setting


def tensorboard_folder(params: Mapping[str, Any], folder: str | Path | None) -> str | Path:
    """``folder``, or the run's ``paths.TENSORBOARD`` (relative to Snakemake's workdir)."""
    if importlib.util.find_spec("tensorboard") is None:
        raise RuntimeError("tensorboard: true needs the tensorboard package (pip install it).")
    if folder is None and not {"study", "cell"} <= set(params):
        raise ValueError("tensorboard: true needs a tensorboard_dir or the study and cell.")
    return folder or paths.fill(
        paths.TENSORBOARD, study=params["study"], cell=params["cell"], seed=params["seed"]
    )


def out_of_memory(error: BaseException) -> bool:
    """TensorFlow's ResourceExhaustedError (an allocation failed), without importing TF."""
    return type(error).__name__ == "ResourceExhaustedError"


@dataclasses.dataclass
class RunOutputs:
    """The declared outputs of a train job, written together at its end (a killed job never
    leaves half of them behind)."""

    model: str | Path
    history: str | Path
    params: str | Path
    summary: str | Path
    files: tuple[Path, ...] = ()  # whose sha256 the provenance records (own model file)

    def write(
        self, model: Path, history: Path, params: Mapping[str, Any], summary: Mapping[str, Any]
    ) -> None:
        shutil.copyfile(model, self.model)
        # Epochs numbered from 1, as Keras prints them and every other file counts them (the
        # state's history keeps Keras' own 0-based index, which resuming relies on).
        epochs = pd.read_csv(history)
        epochs["epoch"] += 1
        epochs.to_csv(self.history, index=False)
        # What produced the run, beside its settings: a record, not a param (no rerun).
        recorded = {**params, "provenance": provenance.record(files=self.files)}
        Path(self.params).write_text(yaml.safe_dump(recorded, sort_keys=False))
        Path(self.summary).write_text(json.dumps(summary, indent=2) + "\n")

    def failed(
        self,
        reason: str,
        params: Mapping[str, Any],
        state: TrainingState,
        model: Any,
        resumed_after: int,
    ) -> dict[str, Any]:
        """Record a failed run: the history so far, the best checkpoint before the failure
        (or the model as it stood), and the reason."""
        log.error("run failed: %s", reason)
        if not state.best.exists():
            model.save(state.best)
        if not state.history.exists():
            pd.DataFrame(columns=["epoch"]).to_csv(state.history, index=False)
        epochs_run = len(pd.read_csv(state.history))
        summary = {
            "status": status.FAILED,
            "reason": reason,
            "epochs_run": epochs_run,
            "resumed_after_epoch": resumed_after,
        }
        self.write(state.best, state.history, params, summary)
        state.discard()
        return summary


def callbacks(
    model: Any,
    cell: CellSettings,
    state: TrainingState,
    best_so_far: float | None,
    tensorboard: str | Path | None = None,
) -> list[Any]:
    """Learning rate into the logs, best checkpoint by ``monitor`` (validation only, and
    best over all epochs after a resume), history, NaN guard, optional early stopping,
    plateau reduction and TensorBoard logs, and last the per-epoch backup."""
    import keras

    monitor = cell.monitor

    def log_learning_rate(epoch: int, logs: dict[str, Any]) -> None:
        logs["learning_rate"] = float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))

    chosen = [
        keras.callbacks.LambdaCallback(on_epoch_end=log_learning_rate),
        keras.callbacks.ModelCheckpoint(
            state.best, monitor=monitor, save_best_only=True, initial_value_threshold=best_so_far
        ),
        keras.callbacks.CSVLogger(str(state.history), append=True),
        keras.callbacks.TerminateOnNaN(),
    ]
    if cell.early_stopping is not None:
        chosen.append(keras.callbacks.EarlyStopping(monitor=monitor, **cell.early_stopping))
    if cell.reduce_lr_on_plateau is not None:
        chosen.append(
            keras.callbacks.ReduceLROnPlateau(monitor=monitor, **cell.reduce_lr_on_plateau)
        )
    if tensorboard is not None:
        # Scalars per epoch only: graphs and profiles cost time and disk in every run.
        chosen.append(
            keras.callbacks.TensorBoard(str(tensorboard), write_graph=False, profile_batch=0)
        )
    # Last, so that an epoch counts as done only once its history row and checkpoint exist.
    chosen.append(keras.callbacks.BackupAndRestore(str(state.backup), double_checkpoint=True))
    return chosen
