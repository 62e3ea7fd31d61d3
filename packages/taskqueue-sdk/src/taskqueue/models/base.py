"""Base classes and field types shared by every wire model."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

__all__ = ["NOT_BLANK_PATTERN", "NonBlank", "RequestModel", "UpdateModel", "WireModel", "as_utc"]


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty or only whitespace")
    return value


NOT_BLANK_PATTERN = (
    r"[^\u0009-\u000d\u001c-\u0020\u0085\u00a0\u1680\u2000-\u200a\u2028-\u2029\u202f"
    r"\u205f\u3000]"
)
"""Matches a string holding a character that is not whitespace in :meth:`str.isspace`'s sense
(the characters :meth:`str.strip` removes), spelled out because ``\\S`` means different
things to different regex engines (ECMA-262, Python's ``re`` with and without ``ASCII``, Rust's
``regex``)."""

NonBlank = Annotated[
    str,
    Field(min_length=1, json_schema_extra={"pattern": NOT_BLANK_PATTERN}),
    AfterValidator(_not_blank),
]
"""A string with at least one non-whitespace character.

The JSON schema says so with :data:`NOT_BLANK_PATTERN` (a JSON Schema pattern matches anywhere
in the string); the validator checks the same with :meth:`str.strip` and names the field in a
plain message.
"""


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

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        """The schema with ``null`` allowed only for the fields in ``nullable``.

        Every field is typed ``X | None`` so that "not sent" has a Python value, but the
        validator above refuses ``null`` for the others; the schema must say the same.
        """
        schema = handler(core_schema)
        target = handler.resolve_ref_schema(schema)
        for name, prop in target.get("properties", {}).items():
            variants = prop.get("anyOf")
            if name in cls.nullable or not variants or {"type": "null"} not in variants:
                continue
            rest = [v for v in variants if v != {"type": "null"}]
            del prop["anyOf"]
            prop.pop("default", None)
            if len(rest) == 1:
                prop.update(rest[0])
            else:
                prop["anyOf"] = rest
        return schema

    def to_payload(self) -> dict[str, Any]:
        """Return only the fields that were set (``exclude_unset``), JSON-ready."""
        return self.model_dump(mode="json", exclude_unset=True)

    @property
    def is_empty(self) -> bool:
        """True when no field was set, so the update would change nothing."""
        return not self.model_fields_set
