"""Name -> object registries: the single list of valid names and of their arguments.

Registries hold no TensorFlow objects, so the Snakefile can check names and arguments at
parse time without importing Keras (which takes seconds). Keras-backed entries therefore
list their arguments as static tuples, which tests/test_registry_arguments.py compares
with the installed Keras.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """The sentence "Did you mean 'x'?" (with a leading space) for the closest of
    ``choices``, or '' when none is close.

    Ties go to the earliest choice (difflib's own order would offer 'beta_2' for 'beta_one').
    """
    scores = [(difflib.SequenceMatcher(None, str(word), c).ratio(), c) for c in choices]
    best = max((score for score, _ in scores), default=0.0)
    if best < 0.6:  # difflib.get_close_matches' cutoff
        return ""
    return f" Did you mean '{next(c for score, c in scores if score == best)}'?"


def keyword_arguments(function: Callable[..., Any]) -> tuple[str, ...] | None:
    """The keyword-only parameters of ``function`` (its options), or None if it takes **kwargs."""
    parameters = inspect.signature(function).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return None
    return tuple(p.name for p in parameters if p.kind is p.KEYWORD_ONLY)


class Registry:
    """A named collection of builders; unknown names and arguments fail with the valid ones.

    ``handled``: arguments ablate itself reads for every entry (mixing's ``probability``).
    ``reserved``: arguments ablate sets itself, mapped to why a config may not set them.
    """

    def __init__(
        self,
        kind: str,
        *,
        handled: Sequence[str] = (),
        reserved: Mapping[str, str] | None = None,
    ) -> None:
        self.kind = kind
        self.handled = tuple(handled)
        self.reserved = dict(reserved or {})
        self._entries: dict[str, Any] = {}
        self._arguments: dict[str, tuple[str, ...] | None] = {}

    def register(
        self, name: str | None = None, *, arguments: Sequence[str] | None = None
    ) -> Callable[[Any], Any]:
        """Register a builder; ``arguments`` is required unless it is a Python function
        whose keyword-only parameters are its arguments."""

        def decorator(obj: Any) -> Any:
            key = name or obj.__name__
            if key in self._entries:
                raise ValueError(f"{self.kind} '{key}' is registered twice")
            self._entries[key] = obj
            if arguments is not None:
                self._arguments[key] = tuple(arguments)
            return obj

        return decorator

    def add(self, name: str, obj: Any, arguments: Sequence[str] | None = None) -> None:
        self.register(name, arguments=arguments)(obj)

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def get(self, name: str) -> Any:
        try:
            return self._entries[name]
        except KeyError:
            raise ValueError(self.unknown_message(name)) from None

    def unknown_message(self, name: str) -> str:
        return (
            f"unknown {self.kind} '{name}'.{did_you_mean(name, self.names())} "
            f"Valid names: {', '.join(self.names())}."
        )

    def arguments(self, name: str) -> tuple[str, ...] | None:
        """What a config may pass to entry ``name`` (None: anything)."""
        if name not in self._arguments:
            entry = self.get(name)
            if not callable(entry):
                raise TypeError(f"{self.kind} '{name}' was registered without its arguments")
            self._arguments[name] = keyword_arguments(entry)
        own = self._arguments[name]
        if own is None:
            return None
        return tuple(a for a in (*own, *self.handled) if a not in self.reserved)

    def check(self, spec: Mapping[str, Any], key: str) -> None:
        """Raise a one-line ValueError naming the config key of a bad name or argument.

        ``spec`` is {name: ..., **arguments}; ``key`` is its config key, e.g.
        'base.augmentation[1]'.
        """
        name = spec.get("name")
        if not isinstance(name, str) or name not in self:
            what = (
                self.unknown_message(name)
                if name is not None
                else f"a {self.kind} needs a name. Valid names: {', '.join(self.names())}."
            )
            raise ValueError(f"config key '{key}.name': {what}")
        try:
            accepted = self.arguments(name)
        except ValueError as error:  # an entry whose arguments are read from elsewhere
            raise ValueError(f"config key '{key}.name': {error}") from None
        if accepted is None:
            return
        for argument in spec:
            if argument == "name" or argument in accepted:
                continue
            where = f"config key '{key}.{argument}'"
            if argument in self.reserved:
                raise ValueError(
                    f"{where}: {self.kind} '{name}' takes no '{argument}' from the config: "
                    f"{self.reserved[argument]}."
                )
            raise ValueError(
                f"{where}: unknown argument of {self.kind} '{name}'."
                f"{did_you_mean(argument, accepted)} Accepted: {', '.join(accepted) or 'none'}."
            )
