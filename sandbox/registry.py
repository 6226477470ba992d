"""One registry type for everything pluggable: monitors, backends, user policies, judges.

Components register with a decorator under a name; third-party packages can add more
through the entry-point group ``persona_sandbox.<registry name>``. Heavy optional
dependencies are imported inside the factories, so importing the registry stays cheap.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any, Generic, TypeVar

__all__ = ["Registry", "backends", "judges", "monitors", "policies"]

T = TypeVar("T")


class Registry(Generic[T]):
    """Named factories of one kind of component."""

    def __init__(self, name: str, builtin_modules: tuple[str, ...] = ()):
        self.name = name
        self._factories: dict[str, Callable[..., T]] = {}
        self._builtin_modules = builtin_modules
        self._loaded = False

    def register(self, name: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
        """Decorator: register a factory (a class or a function) under `name`."""

        def deco(factory: Callable[..., T]) -> Callable[..., T]:
            if name in self._factories and self._factories[name] is not factory:
                raise ValueError(f"{self.name} {name!r} is already registered")
            self._factories[name] = factory
            return factory

        return deco

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        for mod in self._builtin_modules:
            importlib.import_module(mod)
        for ep in entry_points(group=f"persona_sandbox.{self.name}"):
            if ep.name not in self._factories:
                self._factories[ep.name] = ep.load()

    def names(self) -> list[str]:
        """All registered names, built-in and plugin."""
        self._load()
        return sorted(self._factories)

    def get(self, name: str) -> Callable[..., T]:
        """The factory registered under `name`.

        Raises:
            KeyError: with the list of known names.
        """
        self._load()
        try:
            return self._factories[name]
        except KeyError:
            known = ", ".join(sorted(self._factories)) or "none"
            raise KeyError(f"unknown {self.name} {name!r}; known: {known}") from None

    def create(self, name: str, **kwargs: Any) -> T:
        """Build the component `name` with keyword arguments from a spec."""
        return self.get(name)(**kwargs)


monitors: Registry[Any] = Registry("monitors", ("sandbox.monitors.builtin",))
backends: Registry[Any] = Registry("backends", ("sandbox.agent.backends",))
policies: Registry[Any] = Registry("policies", ("sandbox.sim.policies", "sandbox.sim.llm_policy"))
judges: Registry[Any] = Registry(
    "judges", ("sandbox.monitors.judges", "sandbox.monitors.judges.llm")
)
