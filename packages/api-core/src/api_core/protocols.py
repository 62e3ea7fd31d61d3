"""Structural interfaces (``typing.Protocol``, runtime-checkable) shared by services."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol, Self, TypeVar, runtime_checkable

__all__ = [
    "AsyncRepository",
    "CacheProvider",
    "Command",
    "CommandHandler",
    "EventHandler",
    "Identifiable",
    "Mapper",
    "Query",
    "QueryHandler",
    "SoftDeletable",
    "Timestamped",
    "UnitOfWork",
]

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)
CreateT_contra = TypeVar("CreateT_contra", contravariant=True)
UpdateT_contra = TypeVar("UpdateT_contra", contravariant=True)
SourceT = TypeVar("SourceT")
TargetT = TypeVar("TargetT")
CommandT_contra = TypeVar("CommandT_contra", contravariant=True)
QueryT_contra = TypeVar("QueryT_contra", contravariant=True)
EventT_contra = TypeVar("EventT_contra", contravariant=True)


@runtime_checkable
class Identifiable(Protocol):
    """Has an ``id``."""

    @property
    def id(self) -> Any:
        """The entity's identity."""


@runtime_checkable
class Timestamped(Protocol):
    """Records when it was created and last updated."""

    @property
    def created_at(self) -> datetime:
        """Creation time."""

    @property
    def updated_at(self) -> datetime | None:
        """Last update time, if any."""


@runtime_checkable
class SoftDeletable(Protocol):
    """Deleted by marking, not by removal."""

    @property
    def deleted_at(self) -> datetime | None:
        """When it was deleted, or ``None``."""

    @property
    def is_deleted(self) -> bool:
        """Whether it is deleted."""


@runtime_checkable
class AsyncRepository(Protocol[T_co, CreateT_contra, UpdateT_contra]):
    """Async persistence of entities ``T`` created from ``CreateT`` and changed by ``UpdateT``."""

    async def get_by_id(self, entity_id: Any) -> T_co | None:
        """Return the entity or ``None``."""

    async def create(self, data: CreateT_contra) -> T_co:
        """Store a new entity and return it."""

    async def update(self, entity_id: Any, data: UpdateT_contra) -> T_co | None:
        """Apply ``data`` and return the entity, or ``None`` if it does not exist."""

    async def delete(self, entity_id: Any) -> bool:
        """Delete; return whether something was deleted."""

    async def list(self, *, skip: int = 0, limit: int = 100) -> Sequence[T_co]:
        """Return up to ``limit`` entities after skipping ``skip``."""


@runtime_checkable
class CacheProvider(Protocol):
    """An async key-value cache."""

    async def get(self, key: str) -> Any | None:
        """Return the value or ``None`` on a miss."""

    async def set(self, key: str, value: Any, ttl: float | None = None) -> None:
        """Store ``value``; ``ttl`` seconds (the provider's default when ``None``)."""

    async def delete(self, key: str) -> None:
        """Remove ``key``."""

    async def clear(self) -> None:
        """Remove every key this provider owns."""


@runtime_checkable
class EventHandler(Protocol[EventT_contra]):
    """Reacts to a domain event."""

    async def handle(self, event: EventT_contra) -> None:
        """Handle ``event``."""


@runtime_checkable
class Command(Protocol):
    """A request to change state (a marker: any object can be a command)."""


@runtime_checkable
class Query(Protocol):
    """A request to read state (a marker: any object can be a query)."""


@runtime_checkable
class CommandHandler(Protocol[CommandT_contra, T_co]):
    """Executes one command type."""

    async def handle(self, command: CommandT_contra) -> T_co:
        """Execute ``command`` and return its result."""


@runtime_checkable
class QueryHandler(Protocol[QueryT_contra, T_co]):
    """Answers one query type."""

    async def handle(self, query: QueryT_contra) -> T_co:
        """Answer ``query``."""


@runtime_checkable
class Mapper(Protocol[SourceT, TargetT]):
    """Converts between two representations (e.g. ORM row and API model)."""

    def to_target(self, source: SourceT) -> TargetT:
        """Map ``source`` to the target type."""

    def to_source(self, target: TargetT) -> SourceT:
        """Map ``target`` back to the source type."""


@runtime_checkable
class UnitOfWork(Protocol):
    """A transaction boundary: commit everything or nothing."""

    async def __aenter__(self) -> Self:
        """Begin."""

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Roll back on error, else leave the outcome to :meth:`commit`."""

    async def commit(self) -> None:
        """Make the changes durable."""

    async def rollback(self) -> None:
        """Discard the changes."""
