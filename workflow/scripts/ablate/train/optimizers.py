"""Optimizer registry and learning-rate schedules, named as in the config."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ablate.registry import Registry

# Arguments every Keras optimizer takes. `name` is left out: in the config it names the
# registry entry.
_COMMON = (
    "clipnorm",
    "clipvalue",
    "global_clipnorm",
    "use_ema",
    "ema_momentum",
    "ema_overwrite_frequency",
    "loss_scale_factor",
    "gradient_accumulation_steps",
)

OPTIMIZERS = Registry("optimizer")
# name -> (keras.optimizers class, its __init__ arguments), written out to keep Keras out of
# parsing; tests/test_registry_arguments.py keeps them equal to the installed Keras.
for _name, (_class, _arguments) in {
    "adam": ("Adam", ("learning_rate", "beta_1", "beta_2", "epsilon", "amsgrad",
        "weight_decay", *_COMMON)),
    "adamw": ("AdamW", ("learning_rate", "weight_decay", "beta_1", "beta_2", "epsilon",
        "amsgrad", *_COMMON)),
    "sgd": ("SGD", ("learning_rate", "momentum", "nesterov", "weight_decay", *_COMMON)),
    "rmsprop": ("RMSprop", ("learning_rate", "rho", "momentum", "epsilon", "centered",
        "weight_decay", *_COMMON)),
}.items():  # fmt: skip
    OPTIMIZERS.add(_name, _class, _arguments)


def learning_rate(
    initial: float, schedule: Mapping[str, Any], steps_per_epoch: int, epochs: int
) -> Any:
    """A constant rate, or a Keras schedule stepping per batch.

    ``schedule`` is a cell's resolved schedule setting (every key present).
    cosine: from ``initial`` down to ``alpha * initial`` over all epochs.
    step: multiplied by ``factor`` every ``every_epochs`` epochs.
    """
    name = schedule["name"]
    if name == "constant":
        return initial
    import keras

    if name == "cosine":
        return keras.optimizers.schedules.CosineDecay(
            initial, decay_steps=steps_per_epoch * epochs, alpha=schedule["alpha"]
        )
    if name == "step":
        return keras.optimizers.schedules.ExponentialDecay(
            initial,
            decay_steps=steps_per_epoch * schedule["every_epochs"],
            decay_rate=schedule["factor"],
            staircase=True,
        )
    raise ValueError(f"unknown schedule '{name}'; use constant, cosine or step.")


def build_optimizer(
    spec: Mapping[str, Any], schedule: Mapping[str, Any], steps_per_epoch: int, epochs: int
) -> Any:
    """The optimizer named by ``spec['name']``; other keys are its Keras arguments."""
    OPTIMIZERS.check(spec, "optimizer")
    import keras

    options = {k: v for k, v in spec.items() if k != "name"}
    options["learning_rate"] = learning_rate(
        options["learning_rate"], schedule, steps_per_epoch, epochs
    )
    optimizer_class = getattr(keras.optimizers, OPTIMIZERS.get(spec["name"]))
    try:
        return optimizer_class(**options)
    except (TypeError, ValueError) as error:
        raise ValueError(f"optimizer '{spec['name']}': {error}") from error
