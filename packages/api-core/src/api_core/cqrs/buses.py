"""Command and query buses with middleware, domain events and event-driven cache invalidation."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, is_dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from api_core.cqrs._signature import as_callable
from api_core.cqrs.middleware import Middleware, Next
from api_core.errors import HandlerNotFoundError, HandlerRegistrationError
from api_core.protocols import CacheProvider
from api_core.result import Err, Ok, Result
from platform_core.logging import get_logger

__all__ = ["CommandBus", "QueryBus", "WithEvents"]

T = TypeVar("T")
_log = get_logger("api_core.cqrs")


@dataclass(frozen=True, slots=True)
class WithEvents(Generic[T]):
    """What a command handler returns to emit domain events with its result.

    The events are published only after the whole middleware chain succeeded (after the
    transaction committed).
    """

    value: T
    events: Sequence[Any] = field(default_factory=tuple)


def _chain(middleware: Sequence[Middleware], handler: Next) -> Next:
    call = handler
    for mw in reversed(middleware):

        def bind(mw: Middleware = mw, nxt: Next = call) -> Next:
            async def step(message: Any) -> Any:
                return await mw(message, nxt)

            return step

        call = bind()
    return call


class _Registry:
    def __init__(self, kind: str, middleware: Sequence[Middleware]) -> None:
        self.kind = kind
        self.middleware = list(middleware)
        self.handlers: dict[type[Any], Next] = {}

    def register(self, message_type: type[Any], handler: Any) -> Next:
        func = as_callable(message_type, handler)
        if message_type in self.handlers:
            raise HandlerRegistrationError(
                f"{message_type.__qualname__} already has a {self.kind} handler; "
                "one message type has exactly one handler"
            )
        chained = _chain(self.middleware, func)
        self.handlers[message_type] = chained
        return chained

    def lookup(self, message: Any) -> Next:
        chained = self.handlers.get(type(message))
        if chained is None:
            raise HandlerNotFoundError(type(message), self.kind)
        return chained


def _stable(query: Any) -> str:
    if isinstance(query, BaseModel):
        return query.model_dump_json()
    if is_dataclass(query) and not isinstance(query, type):
        return json.dumps(asdict(query), sort_keys=True, default=str)
    return repr(vars(query)) if hasattr(query, "__dict__") else repr(query)


class QueryBus:
    """Dispatches queries to their handlers; can cache results and drop them on events.

    Args:
        middleware: Applied around every handler, first = outermost.
        cache: Where cached results live (needed for ``cache_ttl``); a layered or Redis cache
            shares results and invalidations across processes.
    """

    def __init__(
        self, middleware: Sequence[Middleware] = (), *, cache: CacheProvider | None = None
    ) -> None:
        self._registry = _Registry("query", middleware)
        self.cache = cache
        self._ttl: dict[type[Any], float] = {}
        self._invalidated_by: dict[type[Any], tuple[type[Any], ...]] = {}

    def register(
        self,
        query_type: type[Any],
        handler: Any,
        *,
        cache_ttl: float | None = None,
        invalidated_by: Iterable[type[Any]] = (),
    ) -> None:
        """Register ``handler`` for ``query_type``.

        Args:
            query_type: The query class.
            handler: ``async def h(query)`` or an object with ``async def handle(query)``.
            cache_ttl: Cache results for this many seconds (requires ``cache``).
            invalidated_by: Domain event types that make every cached result of this query
                type stale; a :class:`CommandBus` wired to this bus drops them automatically.

        Raises:
            HandlerRegistrationError: the handler's signature does not fit, the type already
                has a handler, or caching was asked for without a cache.
        """
        if cache_ttl is not None and self.cache is None:
            raise HandlerRegistrationError(
                f"cache_ttl for {query_type.__qualname__} needs QueryBus(cache=...)"
            )
        self._registry.register(query_type, handler)
        if cache_ttl is not None:
            self._ttl[query_type] = cache_ttl
        self._invalidated_by[query_type] = tuple(invalidated_by)

    async def _generation(self, query_type: type[Any]) -> str:
        assert self.cache is not None
        key = f"cqrs:gen:{query_type.__module__}.{query_type.__qualname__}"
        current = await self.cache.get(key)
        if isinstance(current, str):
            return current
        fresh = uuid.uuid4().hex
        await self.cache.set(key, fresh, 30 * 86400)
        return fresh

    async def dispatch(self, query: Any) -> Result[Any, Exception]:
        """Answer ``query``: ``Ok(result)`` or ``Err(exception)`` from the handler.

        Raises:
            HandlerNotFoundError: no handler for ``type(query)``.
        """
        chained = self._registry.lookup(query)
        ttl = self._ttl.get(type(query))
        key: str | None = None
        if ttl is not None and self.cache is not None:
            gen = await self._generation(type(query))
            key = f"cqrs:q:{type(query).__qualname__}:{gen}:{_stable(query)}"
            hit = await self.cache.get(key)
            if hit is not None:
                return Ok(hit[0])
        try:
            result = await chained(query)
        except Exception as exc:
            return Err(exc)
        if key is not None and self.cache is not None:
            await self.cache.set(key, [result], ttl)
        return Ok(result)

    async def invalidate_for(self, event: Any) -> list[type[Any]]:
        """Make cached results stale for every query type invalidated by ``event``'s type.

        Returns:
            The query types whose results were invalidated.
        """
        if self.cache is None:
            return []
        stale = [
            qt for qt, kinds in self._invalidated_by.items() if kinds and isinstance(event, kinds)
        ]
        for query_type in stale:
            key = f"cqrs:gen:{query_type.__module__}.{query_type.__qualname__}"
            await self.cache.set(key, uuid.uuid4().hex, 30 * 86400)
        return stale


EventSubscriber = Callable[[Any], Awaitable[None]]


class CommandBus:
    """Dispatches commands to their handlers and publishes the domain events they emit.

    Args:
        middleware: Applied around every handler, first = outermost (e.g. logging, tracing,
            validation, transaction).
        query_bus: Cached query results invalidated by emitted events are dropped here.
    """

    def __init__(
        self, middleware: Sequence[Middleware] = (), *, query_bus: QueryBus | None = None
    ) -> None:
        self._registry = _Registry("command", middleware)
        self.query_bus = query_bus
        self._subscribers: dict[type[Any], list[EventSubscriber]] = {}

    def register(self, command_type: type[Any], handler: Any) -> None:
        """Register ``handler`` for ``command_type``.

        Raises:
            HandlerRegistrationError: the signature does not fit or the type has a handler.
        """
        self._registry.register(command_type, handler)

    def subscribe(self, event_type: type[Any], subscriber: EventSubscriber) -> None:
        """Call ``subscriber(event)`` for each emitted event of ``event_type`` (or a subclass)."""
        as_callable(event_type, subscriber)
        self._subscribers.setdefault(event_type, []).append(subscriber)

    async def dispatch(self, command: Any) -> Result[Any, Exception]:
        """Execute ``command``: ``Ok(value)`` or ``Err(exception)``; events are published only
        on success.

        Raises:
            HandlerNotFoundError: no handler for ``type(command)``.
        """
        chained = self._registry.lookup(command)
        try:
            outcome = await chained(command)
        except Exception as exc:
            return Err(exc)
        if isinstance(outcome, WithEvents):
            for event in outcome.events:
                await self._publish(event)
            return Ok(outcome.value)
        return Ok(outcome)

    async def _publish(self, event: Any) -> None:
        if self.query_bus is not None:
            await self.query_bus.invalidate_for(event)
        for event_type, subscribers in self._subscribers.items():
            if isinstance(event, event_type):
                for subscriber in subscribers:
                    try:
                        await subscriber(event)
                    except Exception:
                        # The command already succeeded (and committed); report the subscriber's
                        # failure loudly instead of turning the command into an error.
                        _log.exception(
                            "event subscriber failed",
                            event_type=type(event).__qualname__,
                            subscriber=getattr(subscriber, "__qualname__", repr(subscriber)),
                        )
