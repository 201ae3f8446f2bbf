"""Name -> class lookup for backends and benchmarks, with "did you mean" on a typo.

A backend or benchmark registers itself with a decorator in its own module; the registry
imports every module of its package on first lookup, so adding a file is all it takes.
Modules must keep heavy imports (torch, vllm) inside functions so discovery stays cheap.
"""

from __future__ import annotations

import difflib
import importlib
import pkgutil
from typing import Callable, Generic, TypeVar

from bolt_eval.types import UserError

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, kind: str, package: str) -> None:
        self.kind = kind
        self.package = package
        self._items: dict[str, type[T]] = {}
        self._discovered = False

    def register(self, name: str) -> Callable[[type[T]], type[T]]:
        def decorate(cls: type[T]) -> type[T]:
            if name in self._items and self._items[name] is not cls:
                raise RuntimeError(f"{self.kind} {name!r} registered twice")
            self._items[name] = cls
            cls.name = name  # type: ignore[attr-defined]
            return cls

        return decorate

    def _discover(self) -> None:
        if self._discovered:
            return
        pkg = importlib.import_module(self.package)
        for mod in pkgutil.iter_modules(pkg.__path__):
            if not mod.name.startswith("_"):
                importlib.import_module(f"{self.package}.{mod.name}")
        self._discovered = True

    def names(self) -> list[str]:
        self._discover()
        return sorted(self._items)

    def get(self, name: str) -> type[T]:
        self._discover()
        if name in self._items:
            return self._items[name]
        close = difflib.get_close_matches(name, self._items, n=1, cutoff=0.5)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise UserError(
            f"unknown {self.kind} {name!r}.{hint} Known: {', '.join(self.names())}."
        )


backends: Registry = Registry("backend", "bolt_eval.backends")
benchmarks: Registry = Registry("task", "bolt_eval.benchmarks")
