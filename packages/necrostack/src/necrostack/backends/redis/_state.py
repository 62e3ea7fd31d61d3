"""What a Redis consumer keeps in hand: deliveries and the state of each partition."""

from __future__ import annotations

from dataclasses import dataclass, field

from necrostack.backends.redis._partitions import Partition
from necrostack.event import Event

__all__ = ["Delivery", "Fields", "PartState"]

Fields = dict[bytes, bytes]


@dataclass
class Delivery:
    """A stream entry handed to this consumer, with the event it holds."""

    entry_id: bytes
    fields: Fields
    event: Event
    deliveries: int
    part: int


@dataclass
class PartState:
    """This consumer's view of one partition.

    Attributes:
        keys: The partition's keys.
        owned: This consumer reads it (always, without leases).
        releasing: Giving its lease back once nothing of it is held.
        recover: Read this consumer's own pending entries ("0") before new ones.
        fresh: Just leased: claim what the previous owner left pending before reading.
        cursor: Where the next periodic XAUTOCLAIM of idle entries starts.
        to_ack: Handled entries whose XACK is not sent yet.
        next_promote: When due retries are next moved back (cluster reads), monotonic.
        reading: A read of it is in flight: its lease is not given back until that read
            returns, or what it delivers would be left pending under a consumer that no
            longer owns the partition.
    """

    keys: Partition
    owned: bool
    releasing: bool = False
    recover: bool = True
    fresh: bool = False
    cursor: bytes = b"0-0"
    to_ack: list[bytes] = field(default_factory=list)
    next_promote: float = 0.0
    reading: bool = False
