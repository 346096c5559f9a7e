"""Components removed from a built Keras model by name: ``model: {remove: [name, ...]}``.

An entry names one layer (its exact name) or, where no layer has that name, every layer
whose name starts with it: a block ('stage2_identity_block'), a branch ('block1_se'). The
removed layers that feed one another form a component, and the model is rebuilt with each
component bypassed: whatever read the component's output reads the one input of the
component that has the output's shape. So a removed dropout or batch normalisation layer
passes its input on; a removed residual block (its shortcut's Add included) becomes its
shortcut; a removed squeeze-and-excitation branch, with the Multiply that applies its gate,
passes the features on unscaled, as if the gate were 1. A component none of whose inputs
has its output's shape, or two of whose inputs have it (an Add removed without one of its
branches), cannot be bypassed, and the job stops naming its layers and their shapes.

Layers inside a nested model (a keras.applications base) are found and removed in it. The
rebuilt model reuses the built layers and their weights; removed layers are left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ablate.registry import did_you_mean


def remove_layers(model: Any, entries: Sequence[str]) -> Any:
    """``model`` rebuilt without the layers ``entries`` name (``model`` itself if none)."""
    if not entries:
        return model
    removed: set[int] = set()
    for entry in entries:
        found = _matching(model, entry)
        if not found:
            names = [layer.name for layer in _all_layers(model)]
            raise ValueError(
                f"model.remove: no layer of model '{model.name}' is named '{entry}' or "
                f"starts with it.{did_you_mean(entry, names)} Its layers: "
                f"{', '.join(names[:40])}{', ...' if len(names) > 40 else ''} "
                "(all of them: model.summary())."
            )
        removed.update(id(layer) for layer in found)
    return _rebuild(model, removed)


def _all_layers(model: Any) -> list[Any]:
    """Layers of ``model`` and of the functional models nested in it, outer ones first."""
    layers = []
    for layer in model.layers:
        layers.append(layer)
        if _is_functional(layer):
            layers += _all_layers(layer)
    return layers


def _is_functional(layer: Any) -> bool:
    return hasattr(layer, "_nodes_by_depth") and hasattr(layer, "layers")


def _matching(model: Any, entry: str) -> list[Any]:
    """The layer named ``entry`` (at any depth), else every layer whose name starts with it."""
    layers = [layer for layer in _all_layers(model) if not _is_input(layer)]
    exact = [layer for layer in layers if layer.name == entry]
    return exact or [layer for layer in layers if layer.name.startswith(entry)]


def _is_input(layer: Any) -> bool:
    return type(layer).__name__ == "InputLayer"


def _rebuild(model: Any, removed: set[int]) -> Any:
    """A functional ``model`` called again layer by layer on its own inputs, removed
    layers bypassed and nested models holding removed layers rebuilt the same way."""
    import keras

    if isinstance(model, keras.Sequential):
        model = _as_functional(model)
    if not _is_functional(model):
        raise ValueError(
            f"model.remove: model '{model.name}' is a subclassed Keras model, whose layers "
            "cannot be rewired; build it with keras.Model(inputs, outputs) or keras.Sequential."
        )
    nested = {
        id(layer): _rebuild(layer, removed)
        for layer in model.layers
        if _is_functional(layer) and any(id(inner) in removed for inner in _all_layers(layer))
    }
    # Keras 3 keeps a functional model's graph in _nodes_by_depth (Function._run_through_
    # graph walks it the same way): the deepest nodes, the inputs, first.
    nodes = [node for depth in sorted(model._nodes_by_depth, reverse=True)
             for node in model._nodes_by_depth[depth] if not node.is_input]  # fmt: skip
    cut = [node for node in nodes if id(node.operation) in removed]
    kept = [node for node in nodes if id(node.operation) not in removed]
    bypass = _bypasses(model, cut, kept)

    tensors = {id(x): x for x in model.inputs}  # the same symbolic inputs, called anew
    while kept:
        waiting = []
        for node in kept:
            for exit_id, entry in bypass.items():
                if exit_id not in tensors and id(entry) in tensors:
                    tensors[exit_id] = tensors[id(entry)]
            if any(id(x) not in tensors for x in node.input_tensors):
                waiting.append(node)
                continue
            args, kwargs = node.arguments.fill_in(tensors)
            operation = nested.get(id(node.operation), node.operation)
            outputs = keras.tree.flatten(operation(*args, **kwargs))
            tensors.update((id(x), y) for x, y in zip(node.outputs, outputs, strict=True))
        if len(waiting) == len(kept):  # a graph keras built has no cycles: cannot happen
            raise RuntimeError(f"model.remove: could not rewire model '{model.name}'.")
        kept = waiting
    for exit_id, entry in bypass.items():  # a component that was the model's output
        tensors.setdefault(exit_id, tensors[id(entry)])
    outputs = [tensors[id(x)] for x in model.outputs]
    return keras.Model(model.inputs, outputs[0] if len(outputs) == 1 else outputs, name=model.name)


def _as_functional(model: Any) -> Any:
    """A Sequential model's layers called in turn on a new input: a functional model."""
    import keras

    try:
        shape = model.inputs[0].shape
    except (AttributeError, ValueError, IndexError):
        raise ValueError(
            f"model.remove: Sequential model '{model.name}' has no input yet; start it with "
            "keras.Input(shape=input_shape) so that its layers' shapes are known."
        ) from None
    x = inputs = keras.Input(batch_shape=shape, name=f"{model.name}_input")
    for layer in model.layers:
        x = layer(x)
    return keras.Model(inputs, x, name=model.name)


def _bypasses(model: Any, cut: list[Any], kept: list[Any]) -> dict[int, Any]:
    """{id of a tensor a removed component gives to the rest: the component's input that
    takes its place}; a ValueError for a component that cannot be bypassed."""
    made_by = {id(x): node for node in cut for x in node.outputs}
    # Components: removed nodes joined where one reads another's output (union-find).
    parent = {id(node): id(node) for node in cut}

    def root(key: int) -> int:
        while parent[key] != key:
            parent[key] = key = parent[parent[key]]
        return key

    for node in cut:
        for x in node.input_tensors:
            if id(x) in made_by:
                parent[root(id(node))] = root(id(made_by[id(x)]))
    entries: dict[int, dict[int, Any]] = {}
    for node in cut:
        for x in node.input_tensors:
            if id(x) not in made_by:
                entries.setdefault(root(id(node)), {})[id(x)] = x
    read = {id(x) for node in kept for x in node.input_tensors} | {id(x) for x in model.outputs}
    bypass = {}
    for node in cut:
        for x in node.outputs:
            if id(x) not in read:
                continue
            inputs = list(entries.get(root(id(node)), {}).values())
            fits = [entry for entry in inputs if tuple(entry.shape) == tuple(x.shape)]
            if len(fits) != 1:
                layers = [n.operation.name for n in cut if root(id(n)) == root(id(node))]
                raise ValueError(_refusal(layers, inputs, x, fits))
            bypass[id(x)] = fits[0]
    return bypass


def _refusal(layers: list[str], inputs: list[Any], output: Any, fits: list[Any]) -> str:
    def described(x: Any) -> str:
        history = getattr(x, "_keras_history", None)
        return f"{tuple(x.shape)} from '{history.operation.name if history else '?'}'"

    shown = ", ".join(f"'{name}'" for name in layers[:6])
    removed = shown + (f" and {len(layers) - 6} more" if len(layers) > 6 else "")
    takes = "; ".join(described(x) for x in inputs) or "none"
    where = f"model.remove: cannot bypass {removed}: output {tuple(output.shape)}, inputs {takes}"
    if not fits:
        return (
            f"{where}; no input has the output's shape to take its place. Remove a part whose "
            "output has the shape of its input (a residual block, a dropout or batch "
            "normalisation layer, a gated branch with the layer that applies the gate), or "
            "change the model's arguments instead."
        )
    return (
        f"{where}; two inputs have the output's shape, and which to pass on is unclear. "
        "Remove one of the merged branches with it (a residual block's branch and its Add), "
        "leaving one input of that shape."
    )
