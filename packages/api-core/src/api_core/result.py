"""``Result``: ``Ok(value)`` or ``Err(error)``, for outcomes that callers must inspect."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, Literal, NoReturn, TypeAlias, TypeVar

__all__ = ["Err", "Ok", "Result", "UnwrapError"]

T = TypeVar("T")
E = TypeVar("E")
U = TypeVar("U")
F = TypeVar("F")


class UnwrapError(Exception):
    """``unwrap()`` was called on an ``Err``; the error is the ``__cause__`` when it is one."""


@dataclass(frozen=True, slots=True)
class Ok(Generic[T]):
    """A success holding ``value``."""

    value: T

    def is_ok(self) -> Literal[True]:
        """Always True."""
        return True

    def is_err(self) -> Literal[False]:
        """Always False."""
        return False

    def unwrap(self) -> T:
        """Return the value."""
        return self.value

    def unwrap_or(self, default: Any) -> T:
        """Return the value (``default`` is ignored)."""
        return self.value

    def map(self, fn: Callable[[T], U]) -> Ok[U]:
        """Apply ``fn`` to the value."""
        return Ok(fn(self.value))

    def map_err(self, fn: Callable[[Any], Any]) -> Ok[T]:
        """Return self unchanged."""
        return self


@dataclass(frozen=True, slots=True)
class Err(Generic[E]):
    """A failure holding ``error``."""

    error: E

    def is_ok(self) -> Literal[False]:
        """Always False."""
        return False

    def is_err(self) -> Literal[True]:
        """Always True."""
        return True

    def unwrap(self) -> NoReturn:
        """Raise :class:`UnwrapError` (chained to the error when it is an exception)."""
        cause = self.error if isinstance(self.error, BaseException) else None
        raise UnwrapError(f"unwrap() on Err({self.error!r}); check is_ok() first") from cause

    def unwrap_or(self, default: U) -> U:
        """Return ``default``."""
        return default

    def map(self, fn: Callable[[Any], Any]) -> Err[E]:
        """Return self unchanged."""
        return self

    def map_err(self, fn: Callable[[E], F]) -> Err[F]:
        """Apply ``fn`` to the error."""
        return Err(fn(self.error))


Result: TypeAlias = Ok[T] | Err[E]
"""Either ``Ok[T]`` or ``Err[E]``; narrow with ``isinstance`` or ``match``."""
