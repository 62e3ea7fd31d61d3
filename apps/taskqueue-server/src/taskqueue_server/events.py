"""Publishing task and project changes as necrostack events.

The backend is in-memory by default (one process serves the API and delivers webhooks) and
Redis Streams when ``TASKQUEUE_REDIS_URL`` is set (``serve`` publishes, ``deliver`` consumes).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from necrostack import Backend, Event, load_backend
from platform_core.logging import get_logger
from platform_core.redis import RedisSettings
from taskqueue.models import WebhookEventType
from taskqueue_server.db.tenancy import DEFAULT_TENANT
from taskqueue_server.settings import ServerSettings

__all__ = ["EVENT_TYPES", "EventListener", "EventPublisher", "create_backend"]

EVENT_TYPES: list[str] = [event_type.value for event_type in WebhookEventType]
"""Every event the server publishes: the SDK's webhook event types, so the two stay in step."""

_log = get_logger(__name__)


def create_backend(settings: ServerSettings, consumer: str = "taskqueue") -> Backend:
    """The necrostack backend the settings select.

    Args:
        settings: Server settings; ``redis_url`` picks Redis Streams.
        consumer: The consumer name within the delivery group (one per process).
    """
    if settings.redis_url is None:
        return load_backend("memory", setting="TASKQUEUE_REDIS_URL")
    redis_settings = RedisSettings.load(
        url=settings.redis_url.get_secret_value(), key_prefix=settings.redis_key_prefix
    )
    return load_backend(
        "redis",
        setting="TASKQUEUE_REDIS_URL",
        redis_settings=redis_settings,
        stream="events",
        group="webhook-delivery",
        consumer=consumer,
    )


EventListener = Callable[[Event, str], Awaitable[None]]
"""Called with every published event and its tenant (e.g. the console's live feed)."""


class EventPublisher:
    """Turns changes into events on the backend.

    Args:
        backend: Where events go.

    Attributes:
        listeners: Also told of every event after it is queued; one that raises is logged
            and the others still run (the change is already committed).
    """

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.listeners: list[EventListener] = []

    async def publish(
        self, event_type: str, data: dict[str, Any], tenant: str = DEFAULT_TENANT
    ) -> Event:
        """Publish one change.

        Args:
            event_type: One of :data:`EVENT_TYPES`.
            data: The task or project as the API returns it (JSON-ready, secrets redacted).
            tenant: The tenant it belongs to; only that tenant's webhooks receive it.
        """
        event = Event(
            event_type=event_type,
            timestamp=datetime.now(UTC),
            payload={"data": data, "tenant": tenant},
        )
        await self.backend.enqueue(event)
        _log.debug("event published", event_type=event_type, event_id=event.id)
        await self._tell(event, tenant)
        return event

    async def notify(
        self, event_type: str, data: dict[str, Any], tenant: str = DEFAULT_TENANT
    ) -> Event | None:
        """Tell only the listeners of a change webhooks do not carry (e.g. ``task.claimed``);
        None when nobody listens."""
        if not self.listeners:
            return None
        event = Event(
            event_type=event_type,
            timestamp=datetime.now(UTC),
            payload={"data": data, "tenant": tenant},
        )
        await self._tell(event, tenant)
        return event

    async def _tell(self, event: Event, tenant: str) -> None:
        for listener in self.listeners:
            try:
                await listener(event, tenant)
            except Exception:
                _log.exception(
                    "event listener failed", event_type=event.event_type, event_id=event.id
                )
