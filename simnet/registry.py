"""Typed name -> class registries with "did you mean" errors (Gymnasium/CompressAI style)."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

from simnet.errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """A dict of named factories filled by a decorator.

    Example:
        >>> POLICIES: Registry[type] = Registry("policy")
        >>> @POLICIES.register("never")
        ... class Never: ...
        >>> POLICIES.get("never") is Never
        True
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}
        self._renamed: dict[str, tuple[str, str]] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def deco(obj: T) -> T:
            if name in self._items and self._items[name] is not obj:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._items[name] = obj
            return obj

        return deco

    def rename(self, old: str, new: str, why: str = "") -> None:
        """Retire ``old``: asking for it names ``new`` in one line (``why`` says what changed), not a lookup."""
        self._renamed[old] = (new, why)

    def renamed(self, name: str) -> str | None:
        """The current name of a retired ``name``, or None if it was never renamed."""
        return self._renamed[name][0] if name in self._renamed else None

    def renames(self) -> dict[str, str]:
        """Every retired name and its current one."""
        return {old: new for old, (new, _) in self._renamed.items()}

    def get(self, name: str) -> T:
        if name not in self._items:
            raise ConfigError(self.unknown_message(name))
        return self._items[name]

    def unknown_message(self, name: str) -> str:
        """One line for a name that is not registered: the new name of a retired one, else the closest known."""
        if name in self._renamed:
            new, why = self._renamed[name]
            because = f" ({why})" if why else ""
            return f"{self.kind} {name!r} was renamed {new!r}{because}; write {new!r} instead"
        known = sorted(self._items)
        close = difflib.get_close_matches(str(name), known, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return f"unknown {self.kind} {name!r}{hint} (known: {', '.join(known)})"

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._items))

    def __len__(self) -> int:
        return len(self._items)

    def make(self, name: str, **kwargs: Any) -> Any:
        factory: Any = self.get(name)
        return factory(**kwargs)
