"""Turning stream entries into events and back, and the dead-letter entry layout."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from pydantic import ValidationError

from necrostack.backends.base import DEFAULT_MAX_EVENT_BYTES
from necrostack.errors import EventDecodeError, EventTooLargeError
from necrostack.event import Event

__all__ = ["NOT_AN_EVENT", "dead_letter_fields", "decode_entry", "encode_event", "event_json"]

Fields = dict[bytes, bytes]


_TRUSTED = {"necrostack_trusted": True}

NOT_AN_EVENT = "not a valid event"
"""The dead-letter reason of an entry that does not decode to an event."""


def event_json(event: Event, limit: int = DEFAULT_MAX_EVENT_BYTES) -> bytes:
    """``event`` as the JSON a stream entry's ``event`` field holds.

    Raises:
        EventTooLargeError: it is over ``limit`` bytes.
    """
    raw = event.__pydantic_serializer__.to_json(event)
    if len(raw) > limit:
        raise EventTooLargeError(event.id, len(raw), limit)
    return raw


def encode_event(
    event: Event, attempts: int = 0, *, limit: int = DEFAULT_MAX_EVENT_BYTES
) -> dict[str, str | bytes]:
    """The stream fields of ``event`` after ``attempts`` failed deliveries.

    Raises:
        EventTooLargeError: its JSON is over ``limit`` bytes.
    """
    raw = event_json(event, limit)
    if not attempts:  # a missing field reads as 0 (every version): two fewer per entry
        return {"event": raw}
    return {"event": raw, "attempts": str(attempts)}


def decode_entry(fields: Fields) -> tuple[Event, int]:
    """Return the event and its earlier failed deliveries stored in ``fields``.

    Raises:
        EventDecodeError: the entry was not written by necrostack or is corrupt.
    """
    raw = fields.get(b"event")
    if raw is None:
        names = sorted(k.decode(errors="replace") for k in fields)
        raise EventDecodeError(f"no 'event' field (fields: {', '.join(names) or 'none'})")
    try:
        # Written by encode_event from a checked event: its payload is JSON by construction.
        event = Event.model_validate_json(raw, context=_TRUSTED)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "event"
        raise EventDecodeError(f"{where}: {first['msg']}") from exc
    try:
        attempts = int(fields.get(b"attempts", b"0"))
    except ValueError as exc:
        raise EventDecodeError(f"attempts is not an integer: {fields[b'attempts']!r}") from exc
    return event, max(attempts, 0)


def dead_letter_fields(
    fields: Fields,
    *,
    entry_id: bytes,
    stream: str,
    reason: str,
    error: str,
    deliveries: int,
    consumer: str,
) -> dict[str, str | bytes]:
    """The dead-letter stream entry for the stream entry ``entry_id`` with ``fields``."""
    raw: str | bytes | None = fields.get(b"event")
    if raw is None:
        raw = json.dumps(
            {k.decode(errors="replace"): v.decode(errors="replace") for k, v in fields.items()}
        )
    return {
        "event": raw,
        "reason": reason,
        "error": error,
        "deliveries": str(deliveries),
        "original_id": entry_id,
        "stream": stream,
        "consumer": consumer,
        "dead_at": datetime.now(UTC).isoformat(),
    }
