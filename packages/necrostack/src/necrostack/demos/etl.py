"""The ETL demo: ETL_START -> RAW_DATA_LOADED -> DATA_CLEANED -> DATA_TRANSFORMED -> summary."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any, ClassVar

from necrostack.event import Event
from necrostack.organ import Organ

__all__ = [
    "SAMPLE_CSV",
    "CleanData",
    "ExportSummary",
    "ExtractCSV",
    "TransformData",
    "etl_organs",
    "etl_start",
]

SAMPLE_CSV = """name,city,age,score
  Alice ,Paris,34,88.5
BOB,  Lyon ,45,92
Carol,,29,75
 dave,Nice,51,
Eve,MARSEILLE,38,64.25
Frank,Lille,27,81
"""
"""The embedded sample: two rows have an empty value and are dropped by cleaning."""


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


class ExtractCSV(Organ):
    """Parses the CSV text of ``ETL_START`` into rows of strings."""

    listens_to: ClassVar[list[str]] = ["ETL_START"]

    def handle(self, event: Event) -> Event:
        """Emit ``RAW_DATA_LOADED`` with the header and the rows as dicts."""
        reader = csv.DictReader(io.StringIO(str(event.payload.get("csv", SAMPLE_CSV))))
        rows = [dict(row) for row in reader]
        return Event(
            event_type="RAW_DATA_LOADED",
            payload={"columns": list(reader.fieldnames or []), "rows": rows},
        )


class CleanData(Organ):
    """Drops rows with an empty value; trims and lower-cases strings; parses numbers."""

    listens_to: ClassVar[list[str]] = ["RAW_DATA_LOADED"]

    def handle(self, event: Event) -> Event:
        """Emit ``DATA_CLEANED`` with the kept rows and how many were dropped."""
        kept: list[dict[str, Any]] = []
        for row in event.payload["rows"]:
            values = {k: (v or "").strip() for k, v in row.items()}
            if any(v == "" for v in values.values()):
                continue
            cleaned: dict[str, Any] = {}
            for key, value in values.items():
                number = _number(value)
                cleaned[key] = number if number is not None else value.lower()
            kept.append(cleaned)
        return Event(
            event_type="DATA_CLEANED",
            payload={
                "columns": event.payload["columns"],
                "rows": kept,
                "dropped": len(event.payload["rows"]) - len(kept),
            },
        )


class TransformData(Organ):
    """Computes min, max, sum, avg and count of every numeric column."""

    listens_to: ClassVar[list[str]] = ["DATA_CLEANED"]

    def handle(self, event: Event) -> Event:
        """Emit ``DATA_TRANSFORMED`` with per-column statistics."""
        rows: list[dict[str, Any]] = event.payload["rows"]
        stats: dict[str, dict[str, float]] = {}
        for column in event.payload["columns"]:
            values = [row[column] for row in rows]
            if not values or not all(isinstance(v, int | float) for v in values):
                continue
            total = float(sum(values))
            stats[column] = {
                "min": float(min(values)),
                "max": float(max(values)),
                "sum": total,
                "avg": total / len(values),
                "count": len(values),
            }
        return Event(
            event_type="DATA_TRANSFORMED",
            payload={"rows": len(rows), "dropped": event.payload["dropped"], "stats": stats},
        )


class ExportSummary(Organ):
    """Shows the summary through ``output`` and keeps it in :attr:`result`.

    Args:
        output: Where the summary lines go, e.g. ``click.echo``.
    """

    listens_to: ClassVar[list[str]] = ["DATA_TRANSFORMED"]

    def __init__(self, output: Callable[[str], object]) -> None:
        super().__init__()
        self.output = output
        self.result: dict[str, Any] | None = None

    def handle(self, event: Event) -> None:
        """Show the summary; the pipeline ends here."""
        self.result = dict(event.payload)
        self.output(f"rows kept: {event.payload['rows']}, dropped: {event.payload['dropped']}")
        for column, s in event.payload["stats"].items():
            self.output(
                f"{column}: min={s['min']:g} max={s['max']:g} sum={s['sum']:g} "
                f"avg={s['avg']:.2f} count={s['count']}"
            )


def etl_organs(output: Callable[[str], object]) -> list[Organ]:
    """The ETL's organs, in order; the last one is the :class:`ExportSummary`."""
    return [ExtractCSV(), CleanData(), TransformData(), ExportSummary(output)]


def etl_start(csv_text: str = SAMPLE_CSV) -> Event:
    """The ``ETL_START`` event carrying the CSV to process."""
    return Event(event_type="ETL_START", payload={"csv": csv_text})
