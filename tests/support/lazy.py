"""A context manager entered only when its value is first asked for.

A module-scoped fixture that every API test depends on (so that ``on_both_backends`` can
parametrise it) but that only modules marked ``shared_deployment`` use: opening the service is
the slow part of a test, so the modules that never ask must not pay for it.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack
from typing import Generic, TypeVar

T = TypeVar("T")


class OpenedOnFirstUse(Generic[T]):
    """The value of ``opener()``, entered on the first :meth:`get` and exited with ``stack``."""

    def __init__(self, opener: Callable[[], AbstractContextManager[T]], stack: ExitStack) -> None:
        self._opener = opener
        self._stack = stack
        self._value: T | None = None

    def get(self) -> T:
        if self._value is None:
            self._value = self._stack.enter_context(self._opener())
        return self._value
