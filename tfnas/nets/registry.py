"""Name -> factory registries for networks and search spaces.

Factories are plain functions returning a frozen spec; registering one makes it
reachable from every command (`python -m tfnas.nets summary proxyless_mobile`).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from tfnas.errors import UnknownNameError

T = TypeVar("T")


class Registry(Generic[T]):
    """Factories of one kind of object, by unique name."""

    def __init__(self, kind: str, defined_in: Sequence[str] = ()) -> None:
        """Creates an empty registry.

        Args:
            kind: What is registered, for messages (`network`).
            defined_in: Modules whose import registers the built-in entries;
                they are imported on first lookup, so a caller never depends
                on having imported them itself.
        """
        self._kind = kind
        self._defined_in = tuple(defined_in)
        self._factories: dict[str, Callable[..., T]] = {}

    def _load_builtins(self) -> None:
        for module in self._defined_in:
            importlib.import_module(module)

    def register(self, name: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
        """Decorator registering a factory under `name`."""

        def decorator(factory: Callable[..., T]) -> Callable[..., T]:
            if name in self._factories:
                raise ValueError(f"{self._kind} {name!r} is already registered")
            self._factories[name] = factory
            return factory

        return decorator

    def get(self, name: str, **kwargs: object) -> T:
        """Calls the factory registered under `name` with `kwargs`.

        Raises:
            UnknownNameError: When nothing is registered under `name`; the
                message lists what is.
        """
        if name not in self:
            raise UnknownNameError(
                f"unknown {self._kind} {name!r}; registered: {', '.join(self.names())}"
            )
        return self._factories[name](**kwargs)

    def names(self) -> list[str]:
        """The registered names, in registration order."""
        self._load_builtins()
        return list(self._factories)

    def __contains__(self, name: object) -> bool:
        self._load_builtins()
        return name in self._factories


NETS: Registry = Registry("network", defined_in=["tfnas.nets.reference_nets"])
SPACES: Registry = Registry("search space", defined_in=["tfnas.nets.spaces"])
