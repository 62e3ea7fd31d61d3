"""What a :class:`~necrostack.Spine` has done: counters overall and per event type."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["SpineStats", "TypeStats"]


@dataclass(frozen=True)
class TypeStats:
    """Counters of one event type.

    Attributes:
        handled: Events acked after every handler succeeded.
        failed: Events nacked because a handler raised or timed out.
        retried: Failed events the backend scheduled for another delivery.
        dead_lettered: Events the backend gave up on (failed, or unknown with
            ``unknown_events="dead_letter"``).
    """

    handled: int = 0
    failed: int = 0
    retried: int = 0
    dead_lettered: int = 0


@dataclass(frozen=True)
class SpineStats:
    """A snapshot of a Spine's counters since it was built.

    Attributes:
        handled: Events acked after every handler succeeded.
        failed: Events nacked because a handler raised or timed out.
        retried: Failed events the backend scheduled for another delivery.
        dead_lettered: Events the backend gave up on.
        timed_out: Handler calls stopped by their timeout.
        abandoned: Plain handlers left running in their thread (timeout or shutdown).
        unknown: Events of a type no organ listens to.
        in_flight: Events whose handlers are running now (0 or 1).
        by_type: The same counters per event type.
        unknown_types: How many events of each unknown type arrived.
        backend: The backend's ``health()``, when it has one (state, circuit, last error).
    """

    handled: int
    failed: int
    retried: int
    dead_lettered: int
    timed_out: int
    abandoned: int
    unknown: int
    in_flight: int
    by_type: dict[str, TypeStats] = field(default_factory=dict)
    unknown_types: dict[str, int] = field(default_factory=dict)
    backend: dict[str, Any] | None = None


class Counters:
    """The Spine's mutable counters (one object, so the Spine itself holds no container)."""

    __slots__ = (
        "abandoned",
        "dead_lettered",
        "failed",
        "per_type",
        "retried",
        "timed_out",
        "unknown",
        "unknown_types",
    )

    def __init__(self) -> None:
        self.failed = 0
        self.retried = 0
        self.dead_lettered = 0
        self.timed_out = 0
        self.abandoned = 0
        self.unknown = 0
        # event type -> [handled, failed, retried, dead_lettered]; the handled total is the
        # sum of the rows, so the dispatch path updates one counter per event. The Spine
        # makes the rows of the types it routes up front; rows still all zero are not shown.
        self.per_type: dict[str, list[int]] = {}
        self.unknown_types: dict[str, int] = {}

    def row(self, event_type: str) -> list[int]:
        """The per-type counter row of ``event_type``, created on first use."""
        row = self.per_type.get(event_type)
        if row is None:
            row = self.per_type[event_type] = [0, 0, 0, 0]
        return row

    def nacked(self, event_type: str, outcome: object) -> None:
        """Count a failed event and what the backend did with it."""
        row = self.row(event_type)
        self.failed += 1
        row[1] += 1
        if outcome == "retry":
            self.retried += 1
            row[2] += 1
        elif outcome == "dead_letter":
            self.dead_lettered += 1
            row[3] += 1

    def snapshot(self, in_flight: int, backend: dict[str, Any] | None) -> SpineStats:
        """A frozen copy."""
        return SpineStats(
            handled=sum(row[0] for row in self.per_type.values()),
            failed=self.failed,
            retried=self.retried,
            dead_lettered=self.dead_lettered,
            timed_out=self.timed_out,
            abandoned=self.abandoned,
            unknown=self.unknown,
            in_flight=in_flight,
            by_type={t: TypeStats(*row) for t, row in self.per_type.items() if any(row)},
            unknown_types=dict(self.unknown_types),
            backend=backend,
        )
