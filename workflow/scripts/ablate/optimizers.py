"""Optimizer registry: config names mapped to keras.optimizers classes."""

from __future__ import annotations

from typing import Any

from ablate.registry import Registry

OPTIMIZERS = Registry("optimizer")
for _name, _class in {"adam": "Adam", "adamw": "AdamW", "sgd": "SGD", "rmsprop": "RMSprop"}.items():
    OPTIMIZERS.add(_name, _class)


def build_optimizer(spec: dict[str, Any]) -> Any:
    import keras

    options = {k: v for k, v in spec.items() if k != "name"}
    optimizer_class = getattr(keras.optimizers, OPTIMIZERS.get(spec["name"]))
    try:
        return optimizer_class(**options)
    except (TypeError, ValueError) as error:
        raise ValueError(f"optimizer '{spec['name']}': {error}") from error
