"""Base classes and field types shared by every wire model."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

__all__ = ["NonBlank", "RequestModel", "UpdateModel", "WireModel", "as_utc"]


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty or only whitespace")
    return value


NonBlank = Annotated[str, Field(min_length=1), AfterValidator(_not_blank)]
"""A string with at least one non-whitespace character."""


def as_utc(value: datetime) -> datetime:
    """Return ``value`` with a timezone, reading a naive datetime as UTC.

    Args:
        value: Any datetime.
    """
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


class WireModel(BaseModel):
    """A model the server sends: unknown fields are ignored so newer servers stay readable."""

    model_config = ConfigDict(extra="ignore", use_enum_values=False)

    def to_json_dict(self) -> dict[str, Any]:
        """Return the JSON-ready dict (UUIDs and datetimes as strings)."""
        return self.model_dump(mode="json")


class RequestModel(BaseModel):
    """A model the client sends: unknown fields are rejected, so typos fail loudly."""

    model_config = ConfigDict(extra="forbid")

    def to_payload(self) -> dict[str, Any]:
        """Return the JSON body to send: every field, serialised with ``mode="json"``."""
        return self.model_dump(mode="json")


class UpdateModel(RequestModel):
    """A partial update: every field optional, and only the fields that were set are sent.

    ``None`` is accepted only for fields listed in ``nullable`` (clearing them); setting any
    other field to ``None`` is a validation error naming the field.
    """

    nullable: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="after")
    def _reject_null_for_required(self) -> UpdateModel:
        bad = sorted(
            name
            for name in self.model_fields_set
            if getattr(self, name) is None and name not in self.nullable
        )
        if bad:
            raise ValueError(f"{', '.join(bad)}: cannot be null; leave the field out instead")
        return self

    def to_payload(self) -> dict[str, Any]:
        """Return only the fields that were set (``exclude_unset``), JSON-ready."""
        return self.model_dump(mode="json", exclude_unset=True)

    @property
    def is_empty(self) -> bool:
        """True when no field was set, so the update would change nothing."""
        return not self.model_fields_set
