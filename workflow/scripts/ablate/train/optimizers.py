"""Optimizer registry and learning-rate schedules, named as in the config."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ablate.registry import Registry

OPTIMIZERS = Registry("optimizer")
for _name, _class in {"adam": "Adam", "adamw": "AdamW", "sgd": "SGD", "rmsprop": "RMSprop"}.items():
    OPTIMIZERS.add(_name, _class)


def learning_rate(
    initial: float, schedule: Mapping[str, Any] | None, steps_per_epoch: int, epochs: int
) -> Any:
    """A constant rate, or a Keras schedule stepping per batch.

    cosine: from ``initial`` down to ``alpha * initial`` over all epochs.
    step: multiplied by ``factor`` every ``every_epochs`` epochs.
    """
    name = (schedule or {}).get("name", "constant")
    if name == "constant":
        return initial
    import keras

    if name == "cosine":
        return keras.optimizers.schedules.CosineDecay(
            initial, decay_steps=steps_per_epoch * epochs, alpha=schedule.get("alpha", 0.0)
        )
    if name == "step":
        return keras.optimizers.schedules.ExponentialDecay(
            initial,
            decay_steps=steps_per_epoch * schedule.get("every_epochs", 10),
            decay_rate=schedule.get("factor", 0.1),
            staircase=True,
        )
    raise ValueError(f"unknown schedule '{name}'; use constant, cosine or step.")


def build_optimizer(
    spec: Mapping[str, Any],
    schedule: Mapping[str, Any] | None = None,
    steps_per_epoch: int = 1,
    epochs: int = 1,
) -> Any:
    """The optimizer named by ``spec['name']``; other keys are its Keras arguments."""
    import keras

    options = {k: v for k, v in spec.items() if k != "name"}
    options["learning_rate"] = learning_rate(
        options.get("learning_rate", 0.001), schedule, steps_per_epoch, epochs
    )
    optimizer_class = getattr(keras.optimizers, OPTIMIZERS.get(spec["name"]))
    try:
        return optimizer_class(**options)
    except (TypeError, ValueError) as error:
        raise ValueError(f"optimizer '{spec['name']}': {error}") from error
