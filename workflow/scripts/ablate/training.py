"""Train one cell with one seed: best checkpoint by validation loss, history, timings."""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from ablate import runtime
from ablate.split import class_names as read_class_names

log = logging.getLogger(__name__)


def input_shape(image_size: Sequence[int], color_mode: str) -> tuple[int, int, int]:
    return (int(image_size[0]), int(image_size[1]), 1 if color_mode == "grayscale" else 3)


def train_cell(
    *,
    split_dir: str | Path,
    manifest: str | Path,
    settings: Mapping[str, Any],
    dataset: Mapping[str, Any],
    seed: int,
    model_path: str | Path,
    history_path: str | Path,
    params_path: str | Path,
    summary_path: str | Path,
    threads: int | None = None,
    description: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Train, keep the best checkpoint, and write history, resolved params and a summary.

    ``settings`` is a cell's fully resolved training setup; ``dataset`` holds image_size
    and color_mode. ``description`` (study, cell, factor levels) is copied into params.yaml.
    """
    runtime.configure(seed=seed, threads=threads)
    import keras

    from ablate.augment import build_augmentation, build_mixing
    from ablate.data import load_split, one_hot, training_pipeline
    from ablate.models import build_model
    from ablate.optimizers import build_optimizer

    params = {**(description or {}), "seed": seed, "dataset": dict(dataset), **settings}
    Path(params_path).write_text(yaml.safe_dump(params, sort_keys=False))

    classes = read_class_names(manifest)
    shape = input_shape(dataset["image_size"], dataset["color_mode"])
    monitor = settings.get("monitor", "val_loss")

    def load(split: str) -> Any:
        return load_split(split_dir, split, classes, dataset["image_size"], dataset["color_mode"])

    train_images = load("train")
    num_train = int(train_images.cardinality())
    steps_per_epoch = math.ceil(num_train / settings["batch_size"])
    # Build everything that a config can get wrong before the first epoch.
    augmentation = build_augmentation(settings.get("augmentation", []), seed)
    mixing = build_mixing(settings.get("mixing"), seed)
    model = build_model(settings["model"], shape, len(classes))
    model.compile(
        optimizer=build_optimizer(
            settings["optimizer"], settings.get("schedule"), steps_per_epoch, settings["epochs"]
        ),
        loss=keras.losses.CategoricalCrossentropy(
            label_smoothing=settings.get("label_smoothing", 0.0)
        ),
        metrics=["accuracy"],
    )
    log.info("model %s: %d parameters", model.name, model.count_params())

    train = training_pipeline(
        train_images, settings["batch_size"], seed, len(classes), augmentation, mixing
    )
    validation = one_hot(load("validation").batch(settings["batch_size"]), len(classes))

    started = time.perf_counter()
    history = model.fit(
        train,
        validation_data=validation,
        epochs=settings["epochs"],
        shuffle=False,  # the pipeline reshuffles every epoch itself
        callbacks=callbacks(model, settings, monitor, model_path, history_path),
        verbose=2,
    )
    seconds = time.perf_counter() - started
    values = history.history
    if any(math.isnan(loss) for loss in values["loss"]):
        raise RuntimeError(
            f"training loss became NaN in epoch {len(values['loss'])} and TerminateOnNaN "
            "stopped the run: lower the learning rate, or check the data and augmentation."
        )
    if not Path(model_path).exists():
        raise RuntimeError(f"no checkpoint was written: {monitor} was never a number.")

    scores = values[monitor]
    pick = min if monitor.endswith("loss") else max
    best = pick(range(len(scores)), key=scores.__getitem__)
    epochs_run = len(scores)
    summary = {
        "best_epoch": best + 1,
        "epochs_run": epochs_run,
        "monitor": monitor,
        "best_val_loss": float(values["val_loss"][best]),
        "best_val_accuracy": float(values["val_accuracy"][best]),
        "train_seconds": seconds,
        "images_per_second": num_train * epochs_run / seconds,
        "train_images": num_train,
        "num_params": int(model.count_params()),
    }
    Path(summary_path).write_text(json.dumps(summary, indent=2) + "\n")
    log.info("done: %s", summary)
    return summary


def callbacks(
    model: Any,
    settings: Mapping[str, Any],
    monitor: str,
    model_path: str | Path,
    history_path: str | Path,
) -> list[Any]:
    """Best checkpoint by ``monitor`` (validation only), history CSV with the learning
    rate, NaN guard, and the optional early stopping and plateau reduction."""
    import keras

    def log_learning_rate(epoch: int, logs: dict[str, Any]) -> None:
        logs["learning_rate"] = float(model.optimizer.learning_rate)

    chosen = [
        keras.callbacks.LambdaCallback(on_epoch_end=log_learning_rate),  # before CSVLogger
        keras.callbacks.ModelCheckpoint(model_path, monitor=monitor, save_best_only=True),
        keras.callbacks.CSVLogger(str(history_path)),
        keras.callbacks.TerminateOnNaN(),
    ]
    if settings.get("early_stopping") is not None:
        chosen.append(keras.callbacks.EarlyStopping(monitor=monitor, **settings["early_stopping"]))
    if settings.get("reduce_lr_on_plateau") is not None:
        chosen.append(
            keras.callbacks.ReduceLROnPlateau(monitor=monitor, **settings["reduce_lr_on_plateau"])
        )
    return chosen
