"""Jinja filters of the console: ages, durations and times as a person reads them."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["FILTERS", "ago", "span", "stamp"]


def span(seconds: float | None) -> str:
    """``seconds`` as ``850 ms``, ``42 s``, ``3 min 5 s``, ``2 h 10 min`` or ``3 d 4 h``."""
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"
    whole = int(seconds)
    if whole < 3600:
        return f"{whole // 60} min {whole % 60} s"
    if whole < 86400:
        return f"{whole // 3600} h {whole % 3600 // 60} min"
    return f"{whole // 86400} d {whole % 86400 // 3600} h"


def _aware(value: datetime | str) -> datetime:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def ago(value: datetime | str | None) -> str:
    """How long ago ``value`` was (``in 20 s`` when it is ahead)."""
    if value is None:
        return "-"
    delta = (datetime.now(UTC) - _aware(value)).total_seconds()
    return f"{span(delta)} ago" if delta >= 0 else f"in {span(-delta)}"


def stamp(value: datetime | str | None) -> str:
    """``value`` as ``2026-12-07 01:02:03 UTC``."""
    if value is None:
        return "-"
    return _aware(value).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


FILTERS = {"span": span, "ago": ago, "stamp": stamp}
"""The filters the console's templates use."""
