"""Failed deliveries of :class:`~necrostack.backends.redis.RedisBackend`: a retry after a
backoff, or the dead-letter stream."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from necrostack.backends._hooks import notify_dead_letter
from necrostack.backends.base import DeadLetter, DeadLetterHook, NackOutcome
from necrostack.backends.redis._codec import NOT_AN_EVENT, dead_letter_fields
from necrostack.backends.redis._state import Delivery, PartState
from necrostack.backends.redis.settings import RedisBackendSettings
from necrostack.errors import BackendError
from necrostack.event import Event
from platform_core.logging import get_logger

__all__ = ["Retries"]

_log = get_logger("necrostack.backends.redis")


class Retries:
    """Mixin holding ``nack`` and ``dead_letter``; the state lives on the backend."""

    settings: RedisBackendSettings
    client: Any
    group: str
    consumer: str
    parts: list[PartState]
    on_dead_letter: DeadLetterHook | None
    _inflight: dict[str, Delivery]

    _call: Callable[..., Awaitable[Any]]

    async def nack(self, event: Event, error: BaseException) -> NackOutcome:
        """Schedule ``event`` for a retry after a backoff, or dead-letter it when it has had
        ``max_deliveries`` deliveries. Either way its stream entry is acknowledged in the same
        transaction, so it is never both pending and scheduled.

        Returns:
            ``"retry"`` or ``"dead_letter"``.
        """
        delivery = self._inflight.pop(event.id, None)
        if delivery is None:
            raise BackendError(f"nack of event {event.id} that this backend did not hand out")
        if delivery.deliveries >= self.settings.max_deliveries:
            await self._dead_letter(delivery, "max deliveries reached", repr(error))
            return "dead_letter"
        delay = min(
            self.settings.retry_backoff_base * 2 ** (delivery.deliveries - 1),
            self.settings.retry_backoff_cap,
        )
        member = json.dumps(
            {
                "event": delivery.fields.get(b"event", b"").decode(),
                "attempts": delivery.deliveries,
                "id": delivery.entry_id.decode(),
            }
        )
        due_ms = int((time.time() + delay) * 1000)
        keys = self.parts[delivery.part].keys

        async def schedule() -> None:
            async with self.client.pipeline(transaction=True) as pipe:
                pipe.zadd(keys.retry, {member: due_ms})
                pipe.xack(keys.stream, self.group, delivery.entry_id)
                await pipe.execute()

        await self._call("ZADD retry", schedule)
        _log.warning(
            "event retry scheduled",
            event_id=event.id,
            event_type=event.event_type,
            deliveries=delivery.deliveries,
            retry_in_s=round(delay, 3),
            error=repr(error),
        )
        return "retry"

    async def dead_letter(self, event: Event, reason: str) -> None:
        """Move ``event`` (handed out by :meth:`pull`) to the dead letters at once, with
        ``reason`` as its error (the Spine does this for an unknown event type)."""
        delivery = self._inflight.pop(event.id, None)
        if delivery is None:
            raise BackendError(
                f"dead_letter of event {event.id} that this backend did not hand out"
            )
        await self._dead_letter(delivery, "given up by the consumer", reason)

    async def _dead_letter(self, delivery: Delivery, reason: str, error: str) -> None:
        keys = self.parts[delivery.part].keys
        entry = dead_letter_fields(
            delivery.fields,
            entry_id=delivery.entry_id,
            stream=keys.stream,
            reason=reason,
            error=error,
            deliveries=delivery.deliveries,
            consumer=self.consumer,
        )

        async def move() -> None:
            async with self.client.pipeline(transaction=True) as pipe:
                pipe.xadd(
                    keys.dead,
                    entry,
                    maxlen=self.settings.dead_letter_maxlen or None,
                    approximate=True,
                )
                pipe.xack(keys.stream, self.group, delivery.entry_id)
                await pipe.execute()

        await self._call("XADD dead letter", move)
        _log.error(
            "event dead-lettered",
            entry_id=delivery.entry_id.decode(),
            event_id=delivery.event.id if reason != NOT_AN_EVENT else None,
            reason=reason,
            error=error,
            deliveries=delivery.deliveries,
        )
        if reason != NOT_AN_EVENT:
            dead = DeadLetter(delivery.event, error, delivery.deliveries)
            await notify_dead_letter(self.on_dead_letter, dead)
