"""Name -> object registries: the single list of valid model, augmentation and optimizer names.

Registries hold no TensorFlow objects, so the Snakefile can check names at parse time
without importing Keras (which takes seconds).
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable
from typing import Any


class Registry:
    """A named collection of builders; unknown names fail with the list of valid ones."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Any] = {}

    def register(self, name: str | None = None) -> Callable[[Any], Any]:
        def decorator(obj: Any) -> Any:
            key = name or obj.__name__
            if key in self._entries:
                raise ValueError(f"{self.kind} '{key}' is registered twice")
            self._entries[key] = obj
            return obj

        return decorator

    def add(self, name: str, obj: Any) -> None:
        self.register(name)(obj)

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
        close = difflib.get_close_matches(name, self.names(), n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        return f"unknown {self.kind} '{name}'.{hint} Valid names: {', '.join(self.names())}."


def check_keyword_arguments(
    function: Callable[..., Any], kwargs: dict[str, Any], what: str
) -> None:
    """Raise ValueError naming any keyword that ``function`` does not accept."""
    parameters = inspect.signature(function).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return
    accepted = [n for n, p in parameters.items() if p.kind is p.KEYWORD_ONLY]
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        raise ValueError(
            f"{what}: unknown argument(s) {', '.join(map(repr, unknown))}; "
            f"accepted: {', '.join(accepted) or 'none'}."
        )
