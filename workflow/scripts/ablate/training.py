"""Train one cell with one seed: best checkpoint by validation loss, history, timings."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from ablate import runtime
from ablate.split import class_names as read_class_names

log = logging.getLogger(__name__)

MONITOR = "val_loss"  # selection uses the validation split only, never test


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

    from ablate.augment import build_augmentation
    from ablate.data import load_split, training_pipeline
    from ablate.models import build_model
    from ablate.optimizers import build_optimizer

    params = {**(description or {}), "seed": seed, "dataset": dict(dataset), **settings}
    Path(params_path).write_text(yaml.safe_dump(params, sort_keys=False))

    classes = read_class_names(manifest)
    shape = input_shape(dataset["image_size"], dataset["color_mode"])
    # Build everything that a config can get wrong before reading any data.
    augmentation = build_augmentation(settings.get("augmentation", []), seed)
    model = build_model(settings["model"], shape, len(classes))
    model.compile(
        optimizer=build_optimizer(settings["optimizer"]),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    log.info("model %s: %d parameters", model.name, model.count_params())

    def load(split: str) -> Any:
        return load_split(split_dir, split, classes, dataset["image_size"], dataset["color_mode"])

    train_images = load("train")
    num_train = int(train_images.cardinality())
    train = training_pipeline(train_images, settings["batch_size"], seed, augmentation)
    validation = load("validation").batch(settings["batch_size"])

    callbacks = [
        keras.callbacks.ModelCheckpoint(model_path, monitor=MONITOR, save_best_only=True),
        keras.callbacks.CSVLogger(str(history_path)),
    ]
    started = time.perf_counter()
    history = model.fit(
        train,
        validation_data=validation,
        epochs=settings["epochs"],
        callbacks=callbacks,
        verbose=2,
    )
    seconds = time.perf_counter() - started

    losses = history.history[MONITOR]
    best = min(range(len(losses)), key=losses.__getitem__)
    summary = {
        "best_epoch": best + 1,
        "epochs_run": len(losses),
        "best_val_loss": float(losses[best]),
        "best_val_accuracy": float(history.history["val_accuracy"][best]),
        "train_seconds": seconds,
        "images_per_second": num_train * len(losses) / seconds,
        "train_images": num_train,
        "num_params": int(model.count_params()),
    }
    Path(summary_path).write_text(json.dumps(summary, indent=2) + "\n")
    log.info("done: %s", summary)
    return summary
