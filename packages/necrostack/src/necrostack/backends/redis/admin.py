"""Operating a stream: statistics, and listing, replaying and purging dead letters."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from redis.asyncio import Redis

from necrostack.backends.redis._codec import encode_event
from necrostack.backends.redis.settings import RedisBackendSettings
from necrostack.event import Event
from platform_core.redis import RedisSettings, wrap_redis_errors

__all__ = ["ConsumerStats", "DeadLetterEntry", "StreamAdmin", "StreamStats"]


def _text(value: Any) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


@dataclass(frozen=True)
class ConsumerStats:
    """One consumer of the group: its name, entries pending on it, and idle milliseconds."""

    name: str
    pending: int
    idle_ms: int


@dataclass(frozen=True)
class StreamStats:
    """The state of a stream and its consumer group.

    Attributes:
        stream: The stream key.
        length: Entries in the stream (handled ones included until trimmed).
        pending: Entries delivered to a consumer and not yet acked.
        lag: Entries not yet delivered to the group (``None`` if Redis cannot tell).
        consumers: The group's consumers.
        scheduled_retries: Failed events waiting for their retry time.
        dead_letters: Entries in the dead-letter stream.
    """

    stream: str
    length: int
    pending: int
    lag: int | None
    consumers: list[ConsumerStats] = field(default_factory=list)
    scheduled_retries: int = 0
    dead_letters: int = 0


@dataclass(frozen=True)
class DeadLetterEntry:
    """An entry of the dead-letter stream, as written by the backend."""

    id: str
    reason: str
    error: str
    deliveries: int
    original_id: str
    dead_at: str
    event: str


class StreamAdmin:
    """Administration of one stream, its group and its dead letters.

    Args:
        client: A ``redis.asyncio.Redis`` client.
        settings: The backend settings naming the stream, group and dead-letter stream.
        redis_settings: Used for its ``key_prefix``.
    """

    def __init__(
        self,
        client: Redis,
        settings: RedisBackendSettings,
        redis_settings: RedisSettings | None = None,
    ) -> None:
        self.client = client
        self.settings = settings
        prefix = redis_settings.key_prefix if redis_settings else ""
        self.stream, self.dead_letter_stream, self.retry_key = settings.keys(prefix)

    async def stats(self) -> StreamStats:
        """Stream length, pending, lag, consumers, scheduled retries and dead letters."""
        with wrap_redis_errors(f"reading stats of {self.stream}"):
            exists = await self.client.exists(self.stream)
            length = int(await self.client.xlen(self.stream)) if exists else 0
            groups = await self.client.xinfo_groups(self.stream) if exists else []
            group = next((g for g in groups if _text(g["name"]) == self.settings.group), None)
            consumers: list[ConsumerStats] = []
            if group is not None:
                for c in await self.client.xinfo_consumers(self.stream, self.settings.group):
                    consumers.append(
                        ConsumerStats(_text(c["name"]), int(c["pending"]), int(c["idle"]))
                    )
            retries = int(await self.client.zcard(self.retry_key))
            dead = int(await self.client.xlen(self.dead_letter_stream))
        lag = group.get("lag") if group is not None else None
        return StreamStats(
            stream=self.stream,
            length=length,
            pending=int(group["pending"]) if group is not None else 0,
            lag=int(lag) if lag is not None else None,
            consumers=consumers,
            scheduled_retries=retries,
            dead_letters=dead,
        )

    async def dead_letters(self, count: int = 100) -> list[DeadLetterEntry]:
        """The oldest ``count`` dead letters."""
        with wrap_redis_errors(f"XRANGE {self.dead_letter_stream}"):
            entries = await self.client.xrange(self.dead_letter_stream, count=count)
        return [
            DeadLetterEntry(
                id=_text(eid),
                reason=_text(f.get(b"reason", b"")),
                error=_text(f.get(b"error", b"")),
                deliveries=int(f.get(b"deliveries", b"0")),
                original_id=_text(f.get(b"original_id", b"")),
                dead_at=_text(f.get(b"dead_at", b"")),
                event=_text(f.get(b"event", b"")),
            )
            for eid, f in entries
        ]

    async def replay(self, ids: list[str] | None = None) -> tuple[int, list[str]]:
        """Put dead letters back on the stream with a fresh delivery count.

        Args:
            ids: Dead-letter entry ids to replay; every entry when ``None``.

        Returns:
            How many were replayed, and the ids skipped because their entry is not a valid
            event (garbage stays in the dead-letter stream until purged).
        """
        with wrap_redis_errors(f"replaying {self.dead_letter_stream}"):
            if ids is None:
                entries = await self.client.xrange(self.dead_letter_stream)
            else:
                entries = []
                for wanted in ids:
                    entries += await self.client.xrange(self.dead_letter_stream, wanted, wanted)
            replayed, skipped = 0, []
            for eid, fields in entries:
                try:
                    event = Event.model_validate_json(fields.get(b"event", b""))
                except ValidationError:
                    skipped.append(_text(eid))
                    continue
                async with self.client.pipeline(transaction=True) as pipe:
                    pipe.xadd(
                        self.stream,
                        encode_event(event),  # type: ignore[arg-type]
                        maxlen=self.settings.maxlen or None,
                        approximate=True,
                    )
                    pipe.xdel(self.dead_letter_stream, eid)
                    await pipe.execute()
                replayed += 1
        return replayed, skipped

    async def purge(self) -> int:
        """Delete every dead letter; returns how many there were."""
        with wrap_redis_errors(f"purging {self.dead_letter_stream}"):
            async with self.client.pipeline(transaction=True) as pipe:
                pipe.xlen(self.dead_letter_stream)
                pipe.delete(self.dead_letter_stream)
                count, _ = await pipe.execute()
        return int(count)
