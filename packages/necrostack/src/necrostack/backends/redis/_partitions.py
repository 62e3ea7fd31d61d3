"""Where a partition's keys live, and which partition an event goes to.

With one partition on a single Redis the keys are the historical ones (``<stream>``,
``<stream>:dead``, ``<stream>:retry``). Otherwise every partition's keys share a Redis Cluster
hash tag, so the commands and scripts that touch a stream with its retry schedule and its
dead letters stay on one slot; the tag of partition ``i`` is chosen so that its slot falls in
the ``i``-th of ``N`` equal slot ranges, which spreads the partitions over the shards of a
cluster whose slots are split evenly (what ``redis-cli --cluster create`` does).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from redis.crc import REDIS_CLUSTER_HASH_SLOTS, key_slot

from necrostack.event import Event

__all__ = ["Partition", "layout", "partition_of"]


@dataclass(frozen=True)
class Partition:
    """The keys of one partition.

    Attributes:
        index: 0 .. partitions - 1.
        stream: The stream key.
        dead: The dead-letter stream key.
        retry: The retry schedule (sorted set) key.
        owner: The lease key naming the consumer that reads this partition (partitioned
            layout only).
    """

    index: int
    stream: str
    dead: str
    retry: str
    owner: str


def _tag(stream: str, index: int, count: int) -> str:
    low = index * REDIS_CLUSTER_HASH_SLOTS // count
    high = (index + 1) * REDIS_CLUSTER_HASH_SLOTS // count
    base = f"{stream}:p{index}"
    if low <= key_slot(base.encode()) < high:
        return base
    salt = 0
    while True:  # about `count` tries on average
        tag = f"{base}.{salt}"
        if low <= key_slot(tag.encode()) < high:
            return tag
        salt += 1


def layout(
    prefix: str, stream: str, dead_letter_stream: str | None, partitions: int, *, tagged: bool
) -> tuple[Partition, ...]:
    """The partitions of ``stream``.

    Args:
        prefix: The Redis key prefix.
        stream: The stream name (without the prefix).
        dead_letter_stream: The configured dead-letter stream (legacy layout only).
        partitions: How many partitions.
        tagged: Use the hash-tagged layout even for one partition (a Redis Cluster).
    """
    if partitions == 1 and not tagged:
        key = prefix + stream
        dead = prefix + (dead_letter_stream or f"{stream}:dead")
        return (Partition(0, key, dead, f"{key}:retry", f"{key}:owner"),)
    parts = []
    for i in range(partitions):
        tag = "{" + _tag(stream, i, partitions) + "}"
        key = prefix + tag
        parts.append(Partition(i, key, f"{key}:dead", f"{key}:retry", f"{key}:owner"))
    return tuple(parts)


def partition_of(event: Event, partitions: int) -> int:
    """The partition of ``event``: a stable hash of its ``key``, else of its id."""
    if partitions == 1:
        return 0
    key = event.key if event.key is not None else event.id
    return zlib.crc32(key.encode()) % partitions
