"""The Redis Streams backend: consumer groups, reclaim, retries with backoff, dead letters,
partitions on a single Redis or a Redis Cluster."""

from __future__ import annotations

import asyncio
import functools
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from necrostack import _metrics
from necrostack.backends.base import DeadLetterHook
from necrostack.backends.redis._consumer import Consumer
from necrostack.backends.redis._leases import LeaseKeeper
from necrostack.backends.redis._producer import Producer
from necrostack.backends.redis._renewer import Renewer, held_by, sync_twin
from necrostack.backends.redis._resilience import CircuitBreaker, call_resiliently
from necrostack.backends.redis._retries import Retries
from necrostack.backends.redis._state import Delivery, PartState
from necrostack.backends.redis.settings import RedisBackendSettings
from necrostack.errors import BackendError
from necrostack.event import Event
from platform_core.logging import get_logger
from platform_core.redis import RedisSettings, create_redis

__all__ = ["RedisBackend", "create_client"]

_log = get_logger("necrostack.backends.redis")
_T = TypeVar("_T")
_CLOSE_BUDGET = 5.0  # seconds close() may spend flushing acks and handing entries back


def create_client(redis_settings: RedisSettings, settings: RedisBackendSettings) -> Any:
    """A ``redis.asyncio.Redis``, or a ``RedisCluster`` when ``settings.cluster`` is set."""
    if settings.cluster:
        return _cluster_client(redis_settings)
    return create_redis(redis_settings)


def _cluster_client(settings: RedisSettings) -> Any:
    from redis.asyncio.cluster import RedisCluster

    return RedisCluster.from_url(
        settings.url,
        socket_timeout=settings.socket_timeout,
        socket_connect_timeout=settings.connect_timeout,
        decode_responses=False,
    )


class RedisBackend(Producer, Retries, Consumer):
    """At-least-once event delivery on Redis streams shared by any number of workers.

    Every worker reads through one consumer group, so each entry goes to one consumer. An
    entry is acknowledged (XACK) only after the Spine acks it; one whose consumer died is
    reclaimed (XAUTOCLAIM) after ``claim_idle_ms``, while a consumer still working renews
    its claim from a thread of its own (with a connection of its own), so a slow handler is
    not run twice, even one that blocks the event loop. A failed entry is retried after an
    exponential backoff and dead-lettered after ``max_deliveries``; an entry that is not a
    valid event is dead-lettered at once.

    With ``partitions`` above 1 (or on a Redis Cluster) events are spread over that many
    streams by their ``key`` (else their id), each partition is leased to one consumer at a
    time, and events with the same key keep their order.

    Acks are sent in batches: the ids of handled events are flushed when the prefetched
    batch is used up (the Spine's, in the pipeline of its next read), so after a crash at
    most ``batch_size`` handled events run again. A client that is neither a ``Redis`` nor
    a ``RedisCluster`` gets its renewal on the event loop instead (logged at start).

    Args:
        settings: Backend settings; read from ``NECROSTACK_*`` when omitted.
        client: A ``redis.asyncio.Redis`` or ``RedisCluster`` to use (not closed by
            :meth:`close`); built from ``redis_settings`` when omitted.
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
        client: Redis | Any | None = None,
        redis_settings: RedisSettings | None = None,
        on_dead_letter: DeadLetterHook | None = None,
        **overrides: Any,
    ) -> None:
        if settings is not None and overrides:
            settings = RedisBackendSettings.load(**{**settings.model_dump(), **overrides})
        self.settings = settings = settings or RedisBackendSettings.load(**overrides)
        if client is None:
            redis_settings = redis_settings or RedisSettings.load()
            client = (
                _cluster_client(redis_settings)
                if settings.cluster
                else create_redis(redis_settings)
            )
            self._owns_client = True
        else:
            self._owns_client = False
        prefix = redis_settings.key_prefix if redis_settings is not None else ""
        self.cluster = settings.cluster or type(client).__name__ == "RedisCluster"
        self.client: Any = client
        self.group = settings.group
        self.consumer = settings.consumer
        self.on_dead_letter = on_dead_letter
        keys = settings.layout(prefix, tagged=self.cluster)
        self.leased = len(keys) > 1 or self.cluster
        self.parts = [PartState(k, owned=not self.leased) for k in keys]
        self.stream, self.dead_letter_stream, self.retry_key = (
            keys[0].stream,
            keys[0].dead,
            keys[0].retry,
        )
        self.streams = [k.stream for k in keys]
        self._by_stream = {k.stream.encode(): i for i, k in enumerate(keys)}
        self._leases = (
            LeaseKeeper(
                client,
                self.parts,
                self.consumer,
                f"{prefix}{settings.stream}:members",
                settings.claim_idle_ms,
            )
            if self.leased
            else None
        )
        self.breaker = CircuitBreaker()
        self._buffer: deque[Delivery] = deque()
        self._inflight: dict[str, Delivery] = {}
        self._unacked = 0
        self._group_ready = False
        self._last_reclaim = 0.0
        self._refresher: asyncio.Task[None] | None = None
        self._renewer: Renewer | None = None
        self._held = held_by(self.parts, lambda: self._buffer, lambda: self._inflight)
        self._closed = False
        self._gauges: list[tuple[str, str, int, int | None]] = []
        self._init_scripts()
        _metrics.watch_streams(self)

    # --- consuming ------------------------------------------------------------------

    async def pull(self, timeout: float = 1.0) -> Event | None:  # noqa: ASYNC109 - protocol API
        """Return the next event for this consumer, or ``None`` after ``timeout`` seconds.

        Prefetched entries are handed out first; otherwise due retries are promoted, entries
        abandoned by dead consumers reclaimed, and new entries read (XREADGROUP ... BLOCK).

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
            await self._claim_abandoned()
            if self._buffer:
                continue
            readable = [p for p in self.parts if p.owned and not p.releasing]
            remaining = deadline - time.monotonic()
            if readable:
                block_ms = int(min(max(remaining, 0.0), 0.5) * 1000)
                for part in readable:
                    part.reading = True
                try:
                    await self._call(
                        "XREADGROUP", functools.partial(self._read, readable, block_ms)
                    )
                finally:
                    for part in readable:
                        part.reading = False
            elif remaining > 0:
                if self._unacked:  # no read to carry them
                    await self._flush_acks()
                await asyncio.sleep(min(remaining, 0.05))  # every partition is leased elsewhere
            if not self._buffer and time.monotonic() >= deadline:
                return None

    def pull_nowait(self) -> Event | None:
        """A prefetched event if one is in hand, else ``None`` (the Spine's shortcut; only
        :meth:`pull` reads from Redis)."""
        if not self._buffer or self._refresher is None:
            return None
        delivery = self._buffer.popleft()
        self._inflight[delivery.event.id] = delivery
        return delivery.event

    def ack_nowait(self, event: Event) -> bool:
        """Record the ack of ``event`` when no round trip is due yet; ``False`` (and nothing
        done) when :meth:`ack` must send the batch (the Spine's shortcut).

        With the prefetched batch used up, the acks are recorded too: the Spine's next
        :meth:`pull` sends them in the pipeline of its read, ahead of the XREADGROUP.
        """
        if self._buffer:
            if self._unacked + 1 >= self.settings.batch_size:
                return False
        elif self.cluster:
            return False  # cluster reads go partition by partition: ack in a call of its own
        delivery = self._inflight.pop(event.id, None)
        if delivery is None:
            return False  # ack() raises the error
        self.parts[delivery.part].to_ack.append(delivery.entry_id)
        self._unacked += 1
        return True

    async def ack(self, event: Event) -> None:
        """Acknowledge ``event``; sent with the next batch or at once if none is prefetched."""
        delivery = self._inflight.pop(event.id, None)
        if delivery is None:
            raise BackendError(f"ack of event {event.id} that this backend did not hand out")
        self.parts[delivery.part].to_ack.append(delivery.entry_id)
        self._unacked += 1
        if not self._buffer or self._unacked >= self.settings.batch_size:
            await self._flush_acks()

    async def close(self) -> None:
        """Stop renewing claims, flush pending acks, hand prefetched entries back and close
        the connection if owned. Takes at most a few seconds, whatever Redis does.

        Prefetched entries that were never handed out are made reclaimable at once (their
        idle time is set past ``claim_idle_ms``, or their partition lease is given back).
        An event still in hand stays pending and is redelivered after ``claim_idle_ms``.
        """
        if self._closed:
            return
        self._closed = True
        refresher, self._refresher = self._refresher, None
        renewer, self._renewer = self._renewer, None
        stopping: list[Awaitable[Any]] = []
        if refresher is not None:
            refresher.cancel()
            stopping.append(asyncio.wait({refresher}, timeout=2.0))
        if renewer is not None:  # before the hand-back, which the renewer would undo
            stopping.append(asyncio.to_thread(renewer.stop, 2.0))
        await asyncio.gather(*stopping)
        try:
            async with asyncio.timeout(_CLOSE_BUDGET):
                await self._flush_acks()
                await self._hand_back()
        except Exception as exc:  # Redis is down: what is unacked is redelivered later
            _log.error(
                "close could not flush acks or hand entries back; they will be redelivered",
                stream=self.stream,
                error=repr(exc),
            )
        finally:
            if self._owns_client:
                await self.client.aclose()

    # --- visibility -----------------------------------------------------------------

    def health_snapshot(self) -> dict[str, Any]:
        """The backend's state without a round trip: ``status`` (``ok``, ``degraded`` while
        the circuit is half open, ``down`` while it is open), the circuit, and partitions."""
        circuit = self.breaker.snapshot()
        status = {"closed": "ok", "half_open": "degraded"}.get(str(circuit["state"]), "down")
        return {
            "status": "closed" if self._closed else status,
            "backend": "redis",
            "stream": self.stream,
            "group": self.group,
            "consumer": self.consumer,
            "partitions": len(self.parts),
            "owned_partitions": [p.keys.index for p in self.parts if p.owned],
            "in_hand": len(self._buffer) + len(self._inflight),
            "circuit": circuit,
        }

    async def health(self) -> dict[str, Any]:
        """:meth:`health_snapshot` plus a PING (``ping_ms``, or ``status: down`` with the
        error when Redis does not answer within 2 s)."""
        found = self.health_snapshot()
        start = time.perf_counter()
        try:
            async with asyncio.timeout(2.0):
                await self.client.ping()
        except Exception as exc:
            found.update(status="down", error=repr(exc))
            return found
        found["ping_ms"] = round((time.perf_counter() - start) * 1000, 3)
        return found

    def gauge_values(self) -> list[tuple[str, str, int, int | None]]:
        """``(stream, group, pending, lag)`` per partition, as last read (for the gauges)."""
        return list(self._gauges)

    # --- internals ------------------------------------------------------------------

    async def _start(self) -> None:
        if self._closed:
            raise BackendError("the backend is closed; create a new RedisBackend")
        if not self._group_ready:
            await self._call("XGROUP CREATE", self._create_group)
            if self._leases is not None:
                await self._call("partition leases", self._balance)
        if self._refresher is None or self._refresher.done():
            if self._renewer is None:
                self._renewer = self._start_renewer()
            self._refresher = asyncio.create_task(self._maintain())

    def _start_renewer(self) -> Renewer | None:
        loop = asyncio.get_running_loop()
        try:
            client = sync_twin(self.client)
        except TypeError as exc:
            _log.warning(
                "claims are renewed on the event loop: an async def handler that blocks it "
                "can have its event reclaimed and run again",
                stream=self.stream,
                reason=str(exc),
            )
            return None
        renewer = Renewer(
            client,
            self._held,
            group=self.group,
            consumer=self.consumer,
            interval=self.settings.claim_idle_ms / 5000,
            members_key=self._leases.members_key if self._leases is not None else None,
            lease_ms=self.settings.claim_idle_ms,
            alive=lambda: loop.is_running() and not loop.is_closed(),
        )
        renewer.start()
        return renewer

    async def _create_group(self) -> None:
        for stream in self.streams:
            try:
                await self.client.xgroup_create(stream, self.group, id="0", mkstream=True)
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise
        self._group_ready = True

    async def _balance(self) -> None:
        assert self._leases is not None
        await self._leases.balance(self._holds, self._flush_acks, self._lost)

    def _holds(self, part: PartState) -> bool:
        i = part.keys.index
        return (
            part.reading
            or any(d.part == i for d in self._buffer)
            or any(d.part == i for d in self._inflight.values())
        )

    def _lost(self, part: PartState) -> None:
        # Another consumer leases it now and will claim these; handing them out would break
        # the order of their keys.
        i = part.keys.index
        self._buffer = deque(d for d in self._buffer if d.part != i)

    async def _call(self, what: str, fn: Callable[[], Awaitable[_T]]) -> _T:
        return await call_resiliently(
            fn,
            what=f"{what} on {self.stream!r}",
            give_up_after=self.settings.reconnect_timeout,
            on_disconnect=self._lost_connection,
            on_missing_group=self._create_group,
            breaker=self.breaker,
        )

    def _lost_connection(self) -> None:
        # The server may have delivered entries whose reply never arrived: collect them first.
        for part in self.parts:
            part.recover = True
