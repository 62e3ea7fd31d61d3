"""The producing side of :class:`~necrostack.backends.redis.RedisBackend`: ``enqueue`` and
``enqueue_many``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from necrostack._tracing import PROVIDER_SLOT, active_tracer, publishing, publishing_many
from necrostack.backends.redis._codec import encode_event, event_json
from necrostack.backends.redis._partitions import partition_of
from necrostack.backends.redis._scripts import APPEND_EVENTS
from necrostack.backends.redis._state import PartState
from necrostack.backends.redis.settings import RedisBackendSettings
from necrostack.event import TRACEPARENT, Event

__all__ = ["Producer"]

# Most events, and about the most bytes, per APPEND_EVENTS call: a script runs alone on the
# server, so a call is kept short.
_APPEND_CHUNK = 500
_APPEND_BYTES = 4 * 1024 * 1024


class Producer:
    """Mixin holding the publishing methods; the state lives on the backend."""

    settings: RedisBackendSettings
    client: Any
    parts: list[PartState]
    streams: list[str]

    _call: Callable[..., Awaitable[Any]]

    async def enqueue(self, event: Event) -> None:
        """Append ``event`` to its partition's stream (XADD, trimmed to about ``maxlen``).

        With tracing on and no ``traceparent`` in its metadata, the event is stamped with a
        ``necrostack publish <event_type>`` PRODUCER span that wraps the XADD.

        Raises:
            EventTooLargeError: the event is over ``max_event_bytes`` as JSON; nothing is
                written.
        """
        if (
            PROVIDER_SLOT._TRACER_PROVIDER is not None  # no call while no provider is set
            and (tracer := active_tracer()) is not None
            and TRACEPARENT not in event.metadata
        ):
            with publishing(tracer, event) as stamped:
                await self._publish(stamped)
            return
        await self._publish(event)

    async def _publish(self, event: Event) -> None:
        fields = encode_event(event, limit=self.settings.max_event_bytes)
        stream = self.streams[partition_of(event, len(self.parts))]
        maxlen = self.settings.maxlen or None
        await self._call(
            "XADD", lambda: self.client.xadd(stream, fields, maxlen=maxlen, approximate=True)
        )

    async def enqueue_many(self, events: Iterable[Event]) -> None:
        """Append several events in one round trip, each in its own publish span when tracing
        is on. Every event is checked first: when one is too large, nothing is written.

        Each stream's events go in one script call (``APPEND_EVENTS``: its XADDs, then one
        ``XTRIM MAXLEN ~``), so the batch costs one reply per stream, not one per event;
        large batches are cut into calls of at most 500 events or about 4 MiB."""
        batch = list(events)
        tracer = active_tracer() if PROVIDER_SLOT._TRACER_PROVIDER is not None else None
        if tracer is not None and batch:
            with publishing_many(tracer, batch) as stamped:
                await self._enqueue_batch(stamped)
            return
        await self._enqueue_batch(batch)

    async def _enqueue_batch(self, batch: list[Event]) -> None:
        limit, n, streams = self.settings.max_event_bytes, len(self.parts), self.streams
        # Per stream, in order, chunks of at most _APPEND_CHUNK events and _APPEND_BYTES.
        chunks: list[tuple[str, list[bytes]]] = []
        sizes: list[int] = []
        open_chunk: dict[str, int] = {}  # stream -> index of its last chunk
        for event in batch:
            raw = event_json(event, limit)  # every event is checked before anything is sent
            stream = streams[partition_of(event, n)] if n > 1 else streams[0]
            i = open_chunk.get(stream)
            if i is None or len(chunks[i][1]) >= _APPEND_CHUNK or sizes[i] > _APPEND_BYTES:
                open_chunk[stream] = i = len(chunks)
                chunks.append((stream, []))
                sizes.append(0)
            chunks[i][1].append(raw)
            sizes[i] += len(raw)
        if not chunks:
            return
        maxlen = self.settings.maxlen
        calls = [("EVAL", APPEND_EVENTS, 1, stream, maxlen, *raws) for stream, raws in chunks]
        if len(calls) == 1:
            await self._call("XADD (batch)", lambda: self.client.execute_command(*calls[0]))
            return

        async def send() -> None:
            # Per stream in order, so events of a key keep theirs.
            async with self.client.pipeline(transaction=False) as pipe:
                for call in calls:
                    pipe.execute_command(*call)
                await pipe.execute()

        await self._call("XADD (batch, pipelined)", send)
