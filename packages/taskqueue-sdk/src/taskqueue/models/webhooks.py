"""Webhook subscriptions, deliveries and the event body the server POSTs to subscribers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Annotated, Any
from uuid import UUID

from pydantic import AnyHttpUrl, AwareDatetime, Field, SecretStr, field_serializer, field_validator

from taskqueue.models.base import RequestModel, WireModel
from taskqueue.models.enums import DeliveryStatus, WebhookEventType
from taskqueue.models.projects import Project
from taskqueue.models.tasks import Task

__all__ = [
    "WebhookCreateRequest",
    "WebhookDelivery",
    "WebhookDeliveryAttempt",
    "WebhookDeliveryList",
    "WebhookEvent",
    "WebhookList",
    "WebhookSubscription",
]

# Well-formed base64 of at least 24 bytes (32 characters), padding only where base64 puts it.
_BASE64_24 = r"(?:[A-Za-z0-9+/]{4}){8,}(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?"
SECRET_PATTERN = rf"^whsec_{_BASE64_24}$"
HTTP_URL_PATTERN = r"^[Hh][Tt][Tt][Pp][Ss]?://"


def _reveal(secret: SecretStr | None) -> str | None:
    return None if secret is None else secret.get_secret_value()


class WebhookCreateRequest(RequestModel):
    """The body of ``POST /api/webhooks``.

    Attributes:
        url: Where events are POSTed.
        events: The event types to send (at least one).
        description: Free text.
        secret: A ``whsec_<base64>`` signing secret; the server generates one when omitted.
    """

    url: Annotated[AnyHttpUrl, Field(json_schema_extra={"pattern": HTTP_URL_PATTERN})]
    events: list[WebhookEventType] = Field(min_length=1)
    description: str | None = None
    secret: Annotated[SecretStr, Field(json_schema_extra={"pattern": SECRET_PATTERN})] | None = None

    @field_validator("secret")
    @classmethod
    def _secret_shape(cls, secret: SecretStr | None) -> SecretStr | None:
        if secret is not None and not re.fullmatch(SECRET_PATTERN, secret.get_secret_value()):
            raise ValueError(
                "must be 'whsec_' followed by base64 of at least 24 random bytes "
                "(use generate_secret(), or omit it and the server generates one)"
            )
        return secret

    @field_serializer("secret", when_used="json")
    def _secret_json(self, secret: SecretStr | None) -> str | None:
        return _reveal(secret)


class WebhookSubscription(WireModel):
    """A webhook subscription.

    Attributes:
        id: The subscription's id.
        url: Where events are POSTed.
        events: The event types it receives.
        description: Free text.
        active: False when the server stopped sending (deleted or disabled).
        disabled_reason: Why the server stopped sending (e.g. the receiver answered 410).
        created_at: When it was created.
        secret: The signing secret; the server returns it only in the create response.
    """

    id: UUID
    url: str
    events: list[WebhookEventType]
    description: str | None = None
    active: bool = True
    disabled_reason: str | None = None
    created_at: AwareDatetime
    secret: SecretStr | None = None

    @field_serializer("secret", when_used="json")
    def _secret_json(self, secret: SecretStr | None) -> str | None:
        return _reveal(secret)


class WebhookList(WireModel):
    """``GET /api/webhooks``: every subscription."""

    webhooks: list[WebhookSubscription]


class WebhookDeliveryAttempt(WireModel):
    """One HTTP attempt of a delivery.

    Attributes:
        attempted_at: When the request was sent.
        status_code: The subscriber's HTTP status; None when no response came.
        error: Why the attempt failed, if it did.
        duration_ms: How long the attempt took, in milliseconds.
    """

    attempted_at: AwareDatetime
    status_code: int | None = None
    error: str | None = None
    duration_ms: float = Field(ge=0)


class WebhookDelivery(WireModel):
    """One event being sent to one subscription, with every attempt made so far.

    Attributes:
        id: The delivery's id.
        webhook_id: The subscription.
        event_id: The ``webhook-id`` header sent (the same across redeliveries).
        event_type: What happened.
        status: pending, succeeded or failed.
        attempts: How many times it was sent.
        response_status: The subscriber's last HTTP status, if it answered.
        error: Why the last attempt failed, if it did.
        created_at: When the event was queued.
        last_attempt_at: When it was last sent.
        next_attempt_at: When it will be sent again, while pending.
        payload: The event body.
        attempt_log: Every HTTP attempt, oldest first.
    """

    id: UUID
    webhook_id: UUID
    event_id: str
    event_type: WebhookEventType
    status: DeliveryStatus
    attempts: int = Field(default=0, ge=0)
    response_status: int | None = None
    error: str | None = None
    created_at: AwareDatetime
    last_attempt_at: AwareDatetime | None = None
    next_attempt_at: AwareDatetime | None = None
    payload: dict[str, Any] = Field(default_factory=dict)
    attempt_log: list[WebhookDeliveryAttempt] = Field(default_factory=list)


class WebhookDeliveryList(WireModel):
    """One page of ``GET /api/webhooks/{id}/deliveries``, newest first, each delivery with
    its attempts."""

    deliveries: list[WebhookDelivery]
    total: int = Field(ge=0)
    limit: int = Field(ge=0)
    offset: int = Field(ge=0)

    def __iter__(self) -> Iterator[WebhookDelivery]:  # type: ignore[override]
        """Iterate over this page's deliveries (not pydantic's field pairs)."""
        return iter(self.deliveries)

    def __len__(self) -> int:
        """The number of deliveries on this page."""
        return len(self.deliveries)

    def __getitem__(self, index: int) -> WebhookDelivery:
        """The item at ``index`` on this page."""
        return self.deliveries[index]


class WebhookEvent(WireModel):
    """The JSON body of a webhook request (Standard Webhooks shape).

    Attributes:
        type: The event type, e.g. ``task.completed``.
        timestamp: When the event happened.
        data: The task (``task.*``) or project (``project.*``) as the API returns it.
    """

    type: WebhookEventType
    timestamp: AwareDatetime
    data: dict[str, Any]

    def task(self) -> Task:
        """Parse ``data`` as a :class:`Task` (for ``task.*`` events).

        Raises:
            pydantic.ValidationError: when ``data`` is not a task.
        """
        return Task.model_validate(self.data)

    def project(self) -> Project:
        """Parse ``data`` as a :class:`Project` (for ``project.*`` events).

        Raises:
            pydantic.ValidationError: when ``data`` is not a project.
        """
        return Project.model_validate(self.data)
