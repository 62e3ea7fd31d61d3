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

__all__ = [
    "ConsumerStats",
    "DeadLetterEntry",
    "GroupStats",
    "PartitionStats",
    "StreamAdmin",
    "StreamStats",
]


def _text(value: Any) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


@dataclass(frozen=True)
class ConsumerStats:
    """One consumer of the group: its name, entries pending on it, and idle milliseconds."""

    name: str
    pending: int
    idle_ms: int


@dataclass(frozen=True)
class GroupStats:
    """One consumer group of a stream (summed over partitions in :attr:`StreamStats.groups`).

    Attributes:
        group: The group's name.
        pending: Entries delivered to its consumers and not yet acked.
        lag: Entries not yet delivered to it (``None`` if Redis cannot tell).
        consumers: How many consumers it has.
    """

    group: str
    pending: int
    lag: int | None
    consumers: int


@dataclass(frozen=True)
class PartitionStats:
    """One partition: its stream, groups, scheduled retries and dead letters."""

    partition: int
    stream: str
    length: int
    groups: list[GroupStats]
    scheduled_retries: int
    dead_letters: int


@dataclass(frozen=True)
class StreamStats:
    """The state of a stream (all its partitions) and its consumer groups.

    Attributes:
        stream: The stream key (of partition 0 when partitioned).
        length: Entries in the streams (handled ones included until trimmed).
        pending: Entries of the configured group delivered and not yet acked.
        lag: Entries not yet delivered to the configured group (``None`` if unknown).
        consumers: The configured group's consumers.
        scheduled_retries: Failed events waiting for their retry time.
        dead_letters: Entries in the dead-letter streams.
        groups: Every group reading the stream, summed over partitions.
        partitions: The same figures per partition.
    """

    stream: str
    length: int
    pending: int
    lag: int | None
    consumers: list[ConsumerStats] = field(default_factory=list)
    scheduled_retries: int = 0
    dead_letters: int = 0
    groups: list[GroupStats] = field(default_factory=list)
    partitions: list[PartitionStats] = field(default_factory=list)


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
    partition: int = 0


class StreamAdmin:
    """Administration of one stream (every partition), its groups and its dead letters.

    Args:
        client: A ``redis.asyncio.Redis`` (or ``RedisCluster``) client.
        settings: The backend settings naming the stream, group, partitions and dead letters.
        redis_settings: Used for its ``key_prefix``.
    """

    def __init__(
        self,
        client: Redis | Any,
        settings: RedisBackendSettings,
        redis_settings: RedisSettings | None = None,
    ) -> None:
        self.client = client
        self.settings = settings
        prefix = redis_settings.key_prefix if redis_settings else ""
        tagged = settings.cluster or type(client).__name__ == "RedisCluster"
        self.parts = settings.layout(prefix, tagged=tagged)
        self.stream, self.dead_letter_stream, self.retry_key = (
            self.parts[0].stream,
            self.parts[0].dead,
            self.parts[0].retry,
        )

    async def stats(self) -> StreamStats:
        """Length, pending, lag and consumers per group and partition; retries; dead letters."""
        client, wanted = self.client, self.settings.group
        partitions: list[PartitionStats] = []
        consumers: list[ConsumerStats] = []
        with wrap_redis_errors(f"reading stats of {self.stream}"):
            for part in self.parts:
                exists = await client.exists(part.stream)
                length = int(await client.xlen(part.stream)) if exists else 0
                groups = []
                for g in await client.xinfo_groups(part.stream) if exists else []:
                    lag = g.get("lag")
                    name = _text(g["name"])
                    groups.append(
                        GroupStats(
                            name,
                            int(g["pending"]),
                            int(lag) if lag is not None else None,
                            int(g["consumers"]),
                        )
                    )
                    if name == wanted:
                        for c in await client.xinfo_consumers(part.stream, wanted):
                            consumers.append(
                                ConsumerStats(_text(c["name"]), int(c["pending"]), int(c["idle"]))
                            )
                retries = int(await client.zcard(part.retry))
                dead = int(await client.xlen(part.dead))
                partitions.append(PartitionStats(part.index, part.stream, length, groups,
                                                 retries, dead))  # fmt: skip
        totals = _sum_groups(partitions)
        mine = next((g for g in totals if g.group == wanted), None)
        by_name: dict[str, ConsumerStats] = {}
        for c in consumers:
            seen = by_name.get(c.name)
            if seen is not None:
                c = ConsumerStats(c.name, seen.pending + c.pending, min(seen.idle_ms, c.idle_ms))
            by_name[c.name] = c
        return StreamStats(
            stream=self.stream,
            length=sum(p.length for p in partitions),
            pending=mine.pending if mine else 0,
            lag=mine.lag if mine else None,
            consumers=list(by_name.values()),
            scheduled_retries=sum(p.scheduled_retries for p in partitions),
            dead_letters=sum(p.dead_letters for p in partitions),
            groups=totals,
            partitions=partitions,
        )

    async def dead_letters(self, count: int = 100) -> list[DeadLetterEntry]:
        """The oldest ``count`` dead letters of every partition."""
        found: list[DeadLetterEntry] = []
        for part in self.parts:
            with wrap_redis_errors(f"XRANGE {part.dead}"):
                entries = await self.client.xrange(part.dead, count=count)
            found += [
                DeadLetterEntry(
                    id=_text(eid),
                    reason=_text(f.get(b"reason", b"")),
                    error=_text(f.get(b"error", b"")),
                    deliveries=int(f.get(b"deliveries", b"0")),
                    original_id=_text(f.get(b"original_id", b"")),
                    dead_at=_text(f.get(b"dead_at", b"")),
                    event=_text(f.get(b"event", b"")),
                    partition=part.index,
                )
                for eid, f in entries
            ]
        found.sort(key=lambda e: e.dead_at)
        return found[:count]

    async def replay(self, ids: list[str] | None = None) -> tuple[int, list[str]]:
        """Put dead letters back on their partition's stream with a fresh delivery count.

        Args:
            ids: Dead-letter entry ids to replay (``ID``, or ``PARTITION/ID`` to name the
                partition); every entry when ``None``.

        Returns:
            How many were replayed, and the ids skipped because their entry is not a valid
            event (garbage stays in the dead-letter stream until purged).
        """
        replayed, skipped = 0, []
        for part in self.parts:
            with wrap_redis_errors(f"replaying {part.dead}"):
                if ids is None:
                    entries = await self.client.xrange(part.dead)
                else:
                    entries = []
                    for wanted in ids:
                        where, _, eid = wanted.rpartition("/")
                        if where and where != str(part.index):
                            continue
                        entries += await self.client.xrange(part.dead, eid, eid)
                for eid, fields in entries:
                    try:
                        event = Event.model_validate_json(fields.get(b"event", b""))
                    except ValidationError:
                        skipped.append(_text(eid))
                        continue
                    async with self.client.pipeline(transaction=True) as pipe:
                        pipe.xadd(
                            part.stream,
                            encode_event(event),  # type: ignore[arg-type]
                            maxlen=self.settings.maxlen or None,
                            approximate=True,
                        )
                        pipe.xdel(part.dead, eid)
                        await pipe.execute()
                    replayed += 1
        return replayed, skipped

    async def purge(self) -> int:
        """Delete every dead letter; returns how many there were."""
        removed = 0
        for part in self.parts:
            with wrap_redis_errors(f"purging {part.dead}"):
                async with self.client.pipeline(transaction=True) as pipe:
                    pipe.xlen(part.dead)
                    pipe.delete(part.dead)
                    count, _ = await pipe.execute()
            removed += int(count)
        return removed


def _sum_groups(partitions: list[PartitionStats]) -> list[GroupStats]:
    totals: dict[str, GroupStats] = {}
    for part in partitions:
        for g in part.groups:
            seen = totals.get(g.group)
            if seen is None:
                totals[g.group] = g
                continue
            lag = None if seen.lag is None or g.lag is None else seen.lag + g.lag
            totals[g.group] = GroupStats(
                g.group, seen.pending + g.pending, lag, max(seen.consumers, g.consumers)
            )
    return list(totals.values())
