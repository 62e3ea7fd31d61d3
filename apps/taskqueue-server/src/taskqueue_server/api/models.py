"""Response models that extend the SDK's contract with fields only the server reports.

They subclass the SDK models, so every SDK client still parses them (unknown fields are
ignored) while the OpenAPI schema documents the extra fields.
"""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, Field

from taskqueue.models import WebhookDelivery, WebhookDeliveryList

__all__ = ["DeliveryAttempt", "DeliveryPage", "DeliveryRecord"]


class DeliveryAttempt(BaseModel):
    """One HTTP attempt of a delivery."""

    attempted_at: AwareDatetime
    status_code: int | None = None
    error: str | None = None
    duration_ms: float = Field(ge=0)


class DeliveryRecord(WebhookDelivery):
    """A delivery with every attempt made so far."""

    attempt_log: list[DeliveryAttempt] = Field(default_factory=list)


class DeliveryPage(WebhookDeliveryList):
    """A page of deliveries with their attempts."""

    deliveries: list[DeliveryRecord]  # type: ignore[assignment]
