"""Name -> factory registries for networks and search spaces.

Factories are plain functions returning a frozen spec; registering one makes it
reachable from every command (`python -m tfnas.net summary proxyless_mobile`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from tfnas.errors import UnknownNameError

T = TypeVar("T")


class Registry(Generic[T]):
    """Factories of one kind of object, by unique name."""

    def __init__(self, kind: str) -> None:
        self._kind = kind
        self._factories: dict[str, Callable[..., T]] = {}

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
        if name not in self._factories:
            raise UnknownNameError(
                f"unknown {self._kind} {name!r}; registered: {', '.join(self.names())}"
            )
        return self._factories[name](**kwargs)

    def names(self) -> list[str]:
        """The registered names, in registration order."""
        return list(self._factories)

    def __contains__(self, name: object) -> bool:
        return name in self._factories


NETS: Registry = Registry("network")
SPACES: Registry = Registry("search space")
