"""``file:PATH:FUNCTION`` models: a builder in the user's own Python file.

``FUNCTION(input_shape, num_classes, **arguments)`` returns a keras.Model; the model
mapping's other keys are its arguments. Planning reads the function's signature from the
file's syntax tree (nothing is imported or run, and no TensorFlow starts); the train job
imports the file and calls it. PATH is relative to Snakemake's working directory.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ablate.registry import did_you_mean

PREFIX = "file:"
# The two positional parameters every builder takes, before its own arguments.
REQUIRED = ("input_shape", "num_classes")


def is_own(name: object) -> bool:
    return isinstance(name, str) and name.startswith(PREFIX)


def parse(name: str) -> tuple[Path, str]:
    """(file, function) of ``file:PATH:FUNCTION``."""
    path, _, function = name.removeprefix(PREFIX).rpartition(":")
    if not path or not function.isidentifier():
        raise ValueError(
            f"'{name}' names no function: write {PREFIX}<file>:<function>, e.g. "
            f"{PREFIX}models/my_net.py:build."
        )
    return Path(path), function


def model_file(name: str) -> Path:
    return parse(name)[0]


def _function(path: Path, function: str) -> ast.FunctionDef:
    if not path.is_file():
        raise ValueError(
            f"model file {path} not found (paths are relative to the working directory, "
            f"{Path.cwd()})."
        )
    try:
        tree = ast.parse(path.read_text(), filename=str(path))
    except SyntaxError as error:
        raise ValueError(f"{path}, line {error.lineno}: {error.msg}.") from None
    functions = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}
    if function not in functions:
        raise ValueError(
            f"{path} has no top-level function '{function}'.{did_you_mean(function, functions)}"
            f" Functions there: {', '.join(functions) or 'none'}."
        )
    return functions[function]


def arguments(name: str) -> tuple[str, ...] | None:
    """The arguments a config may give the builder ``name`` (None: any, it takes
    **kwargs); a ValueError saying what is wrong with the file or the function."""
    path, function = parse(name)
    node = _function(path, function)
    spec = node.args
    positional = [a.arg for a in (*spec.posonlyargs, *spec.args)]
    if positional[:2] != list(REQUIRED):
        taken = ", ".join(positional) or "nothing positional"
        raise ValueError(
            f"{path}:{function} takes ({taken}); ablate calls {function}(input_shape, "
            "num_classes, **arguments): make those its first two parameters."
        )
    if spec.kwarg is not None:
        return None
    return tuple(positional[2:]) + tuple(a.arg for a in spec.kwonlyargs)


def build(name: str, input_shape: Sequence[int], num_classes: int, **options: Any) -> Any:
    """Import the file, call its builder, and make sure it returned a Keras model."""
    import keras

    path, function = parse(name)
    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]
    spec = importlib.util.spec_from_file_location(f"ablate_user_model_{digest}", path)
    if spec is None or spec.loader is None:
        raise ValueError(f"{path} cannot be imported as a Python file.")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    builder = getattr(module, function)
    try:
        model = builder(tuple(input_shape), num_classes, **options)
    except Exception as error:
        raise RuntimeError(
            f"{path}:{function}{(tuple(input_shape), num_classes)} with {options} failed: "
            f"{type(error).__name__}: {error}"
        ) from error
    if not isinstance(model, keras.Model):
        shown = repr(model)
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
        raise TypeError(
            f"{path}:{function} returned {type(model).__name__} {shown}, not a keras.Model: "
            "return keras.Model(inputs, outputs) (or a keras.Sequential)."
        )
    return model
