"""The Redis Streams backend: consumer groups, reclaim, retries with backoff, dead letters."""

from __future__ import annotations

import asyncio
import functools
import json
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from necrostack._tracing import active_tracer, publishing, publishing_many
from necrostack.backends._hooks import notify_dead_letter
from necrostack.backends.base import DeadLetter, DeadLetterHook
from necrostack.backends.redis._codec import dead_letter_fields, decode_entry, encode_event
from necrostack.backends.redis._resilience import TRANSIENT, call_resiliently
from necrostack.backends.redis._scripts import PROMOTE_DUE, REFRESH_CLAIMS
from necrostack.backends.redis.settings import RedisBackendSettings
from necrostack.errors import BackendError, EventDecodeError
from necrostack.event import TRACEPARENT, Event
from platform_core.logging import get_logger
from platform_core.redis import RedisSettings, create_redis

__all__ = ["RedisBackend"]

_log = get_logger("necrostack.backends.redis")
_T = TypeVar("_T")
Fields = dict[bytes, bytes]
_NOT_AN_EVENT = "not a valid event"


@dataclass
class _Delivery:
    entry_id: bytes
    fields: Fields
    event: Event
    deliveries: int


class RedisBackend:
    """At-least-once event delivery on a Redis stream shared by any number of workers.

    Every worker reads through one consumer group, so each entry goes to one consumer. An
    entry is acknowledged (XACK) only after the Spine acks it; one whose consumer died is
    reclaimed (XAUTOCLAIM) after ``claim_idle_ms``, while a consumer still working refreshes
    its claim so a slow handler is not run twice. A failed entry is retried after an
    exponential backoff and dead-lettered after ``max_deliveries``; an entry that is not a
    valid event is dead-lettered at once.

    Acks are sent in batches: the ids of handled events are flushed when the prefetched
    batch is used up, so after a crash at most ``batch_size`` handled events run again.

    Args:
        settings: Backend settings; read from ``NECROSTACK_*`` when omitted.
        client: A ``redis.asyncio.Redis`` to use (not closed by :meth:`close`); built from
            ``redis_settings`` when omitted.
        redis_settings: Connection settings; read from ``REDIS_*`` when omitted.
        on_dead_letter: Awaited with each event given up on (its handler failed, or its
            consumers crashed, ``max_deliveries`` times) once it is in the dead-letter stream.
        **overrides: Field values of :class:`RedisBackendSettings` (when ``settings`` is
            omitted), e.g. ``stream="orders"``.
    """

    def __init__(
        self,
        settings: RedisBackendSettings | None = None,
        *,
        client: Redis | None = None,
        redis_settings: RedisSettings | None = None,
        on_dead_letter: DeadLetterHook | None = None,
        **overrides: Any,
    ) -> None:
        if settings is not None and overrides:
            settings = RedisBackendSettings.load(**{**settings.model_dump(), **overrides})
        self.settings = settings or RedisBackendSettings.load(**overrides)
        prefix = ""
        if client is None:
            redis_settings = redis_settings or RedisSettings.load()
            client = create_redis(redis_settings)
            self._owns_client = True
        else:
            self._owns_client = False
        if redis_settings is not None:
            prefix = redis_settings.key_prefix
        self.client: Redis = client
        self.stream, self.dead_letter_stream, self.retry_key = self.settings.keys(prefix)
        self.group = self.settings.group
        self.consumer = self.settings.consumer
        self.on_dead_letter = on_dead_letter
        self._promote = client.register_script(PROMOTE_DUE)
        self._refresh = client.register_script(REFRESH_CLAIMS)
        self._buffer: deque[_Delivery] = deque()
        self._inflight: dict[str, _Delivery] = {}
        self._to_ack: list[bytes] = []
        self._group_ready = False
        self._recover_own = True
        self._last_reclaim = 0.0
        self._refresher: asyncio.Task[None] | None = None
        self._closed = False

    # --- producing ------------------------------------------------------------------

    async def enqueue(self, event: Event) -> None:
        """Append ``event`` to the stream (XADD, trimmed to about ``maxlen``).

        With tracing on and no ``traceparent`` in its metadata, the event is stamped with a
        ``necrostack publish <event_type>`` PRODUCER span that wraps the XADD.
        """
        if (tracer := active_tracer()) is not None and TRACEPARENT not in event.metadata:
            with publishing(tracer, event) as stamped:
                await self._call("XADD", lambda: self._xadd(self.client, stamped))
            return
        await self._call("XADD", lambda: self._xadd(self.client, event))

    async def enqueue_many(self, events: Iterable[Event]) -> None:
        """Append several events in one round trip (pipelined XADD), each in its own publish
        span when tracing is on."""
        batch = list(events)
        tracer = active_tracer()
        if tracer is not None and batch:
            with publishing_many(tracer, batch) as stamped:
                await self._enqueue_batch(stamped)
            return
        await self._enqueue_batch(batch)

    async def _enqueue_batch(self, batch: list[Event]) -> None:

        async def send() -> None:
            async with self.client.pipeline(transaction=False) as pipe:
                for event in batch:
                    await self._xadd(pipe, event)
                await pipe.execute()

        if batch:
            await self._call("XADD (pipelined)", send)

    async def _xadd(self, target: Any, event: Event) -> Any:
        maxlen = self.settings.maxlen or None
        return await target.xadd(self.stream, encode_event(event), maxlen=maxlen, approximate=True)

    # --- consuming ------------------------------------------------------------------

    async def pull(self, timeout: float = 1.0) -> Event | None:  # noqa: ASYNC109 - protocol API
        """Return the next event for this consumer, or ``None`` after ``timeout`` seconds.

        Prefetched entries are handed out first; otherwise due retries are promoted, stale
        entries of dead consumers reclaimed, and new entries read (XREADGROUP ... BLOCK).

        Raises:
            DependencyUnavailableError: Redis stayed unreachable for ``reconnect_timeout``.
        """
        deadline = time.monotonic() + timeout
        await self._start()
        while True:
            if self._buffer:
                delivery = self._buffer.popleft()
                self._inflight[delivery.event.id] = delivery
                return delivery.event
            if time.monotonic() - self._last_reclaim >= self._reclaim_every:
                await self._call("XAUTOCLAIM", self._reclaim)
                if self._buffer:
                    continue
            remaining = deadline - time.monotonic()
            block_ms = int(min(max(remaining, 0.0), 0.5) * 1000)
            await self._call("XREADGROUP", functools.partial(self._read, block_ms))
            if not self._buffer and time.monotonic() >= deadline:
                return None

    async def ack(self, event: Event) -> None:
        """Acknowledge ``event``; sent with the next batch or at once if none is prefetched."""
        delivery = self._inflight.pop(event.id, None)
        if delivery is None:
            raise BackendError(f"ack of event {event.id} that this backend did not hand out")
        self._to_ack.append(delivery.entry_id)
        if not self._buffer or len(self._to_ack) >= self.settings.batch_size:
            await self._flush_acks()

    async def nack(self, event: Event, error: BaseException) -> None:
        """Schedule ``event`` for a retry after a backoff, or dead-letter it when it has had
        ``max_deliveries`` deliveries. Either way its stream entry is acknowledged in the same
        transaction, so it is never both pending and scheduled."""
        delivery = self._inflight.pop(event.id, None)
        if delivery is None:
            raise BackendError(f"nack of event {event.id} that this backend did not hand out")
        if delivery.deliveries >= self.settings.max_deliveries:
            await self._dead_letter(delivery, "max deliveries reached", repr(error))
            return
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

        async def schedule() -> None:
            async with self.client.pipeline(transaction=True) as pipe:
                pipe.zadd(self.retry_key, {member: due_ms})
                pipe.xack(self.stream, self.group, delivery.entry_id)
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

    async def close(self) -> None:
        """Flush pending acks, stop refreshing claims and close the connection if owned.

        Prefetched entries that were never handed out stay pending and are reclaimed by
        another consumer after ``claim_idle_ms``.
        """
        if self._closed:
            return
        self._closed = True
        if self._refresher is not None:
            self._refresher.cancel()
            await asyncio.gather(self._refresher, return_exceptions=True)
            self._refresher = None
        try:
            await self._flush_acks()
        finally:
            if self._owns_client:
                await self.client.aclose()

    # --- internals ------------------------------------------------------------------

    @property
    def _reclaim_every(self) -> float:
        return max(self.settings.claim_idle_ms / 2000, 0.05)

    async def _start(self) -> None:
        if self._closed:
            raise BackendError("the backend is closed; create a new RedisBackend")
        if not self._group_ready:
            await self._call("XGROUP CREATE", self._create_group)
        if self._refresher is None or self._refresher.done():
            self._refresher = asyncio.create_task(self._refresh_loop())

    async def _create_group(self) -> None:
        try:
            await self.client.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._group_ready = True

    def _held_ids(self) -> set[bytes]:
        held = {d.entry_id for d in self._buffer}
        held.update(d.entry_id for d in self._inflight.values())
        held.update(self._to_ack)
        return held

    async def _read(self, block_ms: int) -> None:
        async with self.client.pipeline(transaction=False) as pipe:
            await self._promote(
                keys=[self.retry_key, self.stream],
                args=[int(time.time() * 1000), self.settings.batch_size, self.settings.maxlen],
                client=pipe,
            )
            # After a (re)connect, first collect what the server already gave this consumer.
            start = "0" if self._recover_own else ">"
            pipe.xreadgroup(
                self.group,
                self.consumer,
                {self.stream: start},
                count=self.settings.batch_size,
                block=None if start == "0" or block_ms <= 0 else block_ms,
            )
            _, reply = await pipe.execute()
        self._recover_own = False
        held = self._held_ids()
        for _stream, entries in reply or []:
            await self._accept(
                [(eid, f) for eid, f in entries if f and eid not in held], reclaimed=False
            )

    async def _reclaim(self) -> None:
        self._last_reclaim = time.monotonic()
        reply = await self.client.xautoclaim(
            self.stream,
            self.group,
            self.consumer,
            min_idle_time=self.settings.claim_idle_ms,
            start_id="0-0",
            count=self.settings.batch_size,
        )
        entries = [(eid, f) for eid, f in reply[1] if f]
        if len(reply) > 2 and reply[2]:
            _log.error(
                "pending entries were trimmed before being handled",
                stream=self.stream,
                lost=len(reply[2]),
                hint="raise NECROSTACK_MAXLEN or add workers",
            )
        if entries:
            _log.warning("reclaimed stale entries", stream=self.stream, count=len(entries))
            await self._accept(entries, reclaimed=True)

    async def _accept(self, entries: Sequence[tuple[bytes, Fields]], *, reclaimed: bool) -> None:
        counts: dict[bytes, int] = {}
        if reclaimed and entries:
            async with self.client.pipeline(transaction=False) as pipe:
                for eid, _ in entries:
                    pipe.xpending_range(self.stream, self.group, eid, eid, 1)
                for (eid, _), info in zip(entries, await pipe.execute(), strict=True):
                    counts[eid] = int(info[0]["times_delivered"]) if info else 1
        for eid, fields in entries:
            try:
                event, attempts = decode_entry(fields)
            except EventDecodeError as exc:
                await self._dead_letter(
                    _Delivery(eid, fields, Event(event_type="?"), counts.get(eid, 1)),
                    _NOT_AN_EVENT,
                    exc.reason,
                )
                continue
            delivery = _Delivery(eid, fields, event, attempts + counts.get(eid, 1))
            if delivery.deliveries > self.settings.max_deliveries:
                await self._dead_letter(
                    delivery,
                    "max deliveries reached",
                    "delivered without an ack: the consumer crashed or stalled each time",
                )
                continue
            self._buffer.append(delivery)

    async def _dead_letter(self, delivery: _Delivery, reason: str, error: str) -> None:
        entry = dead_letter_fields(
            delivery.fields,
            entry_id=delivery.entry_id,
            stream=self.stream,
            reason=reason,
            error=error,
            deliveries=delivery.deliveries,
            consumer=self.consumer,
        )

        async def move() -> None:
            async with self.client.pipeline(transaction=True) as pipe:
                pipe.xadd(
                    self.dead_letter_stream,
                    entry,  # type: ignore[arg-type]
                    maxlen=self.settings.dead_letter_maxlen or None,
                    approximate=True,
                )
                pipe.xack(self.stream, self.group, delivery.entry_id)
                await pipe.execute()

        await self._call("XADD dead letter", move)
        _log.error(
            "event dead-lettered",
            entry_id=delivery.entry_id.decode(),
            event_id=delivery.event.id if reason != _NOT_AN_EVENT else None,
            reason=reason,
            error=error,
            deliveries=delivery.deliveries,
        )
        if reason != _NOT_AN_EVENT:
            dead = DeadLetter(delivery.event, error, delivery.deliveries)
            await notify_dead_letter(self.on_dead_letter, dead)

    async def _flush_acks(self) -> None:
        if not self._to_ack:
            return
        ids = list(self._to_ack)

        async def send() -> None:
            await self.client.xack(self.stream, self.group, *ids)

        await self._call("XACK", send)
        del self._to_ack[: len(ids)]

    async def _refresh_loop(self) -> None:
        interval = self.settings.claim_idle_ms / 3000
        while True:
            await asyncio.sleep(interval)
            ids = [d.entry_id for d in self._buffer]
            ids += [d.entry_id for d in self._inflight.values()]
            ids += self._to_ack
            if not ids:
                continue
            try:
                await self._refresh(keys=[self.stream], args=[self.group, self.consumer, *ids])
            except (*TRANSIENT, ResponseError) as exc:
                # The next pull reconnects and reports; a missed refresh only risks a duplicate.
                _log.warning("claim refresh failed", stream=self.stream, error=repr(exc))

    async def _call(self, what: str, fn: Callable[[], Awaitable[_T]]) -> _T:
        return await call_resiliently(
            fn,
            what=f"{what} on {self.stream!r}",
            give_up_after=self.settings.reconnect_timeout,
            on_disconnect=self._lost_connection,
            on_missing_group=self._create_group,
        )

    def _lost_connection(self) -> None:
        # The server may have delivered entries whose reply never arrived: collect them first.
        self._recover_own = True
