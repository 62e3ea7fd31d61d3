"""Webhook subscription routes, delivery history and redelivery; and ``/api/stats``."""

from __future__ import annotations

import base64
import binascii
import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import SecretStr

from taskqueue.models import (
    Stats,
    WebhookCreateRequest,
    WebhookDelivery,
    WebhookDeliveryList,
    WebhookList,
    WebhookSubscription,
)
from taskqueue.webhooks import generate_secret
from taskqueue_server.api.deps import (
    MAX_OFFSET,
    PROBLEM_RESPONSES,
    Manager,
    Reader,
    authenticate,
    get_runtime,
    idempotent,
    json_response,
)
from taskqueue_server.db.tenancy import TenantScope
from taskqueue_server.db.webhooks import WebhookStore, webhook_to_wire
from taskqueue_server.errors import ForbiddenError, InvalidInputError
from taskqueue_server.inputs import check_body
from taskqueue_server.ssrf import check_webhook_url

__all__ = ["router"]

router = APIRouter(tags=["webhooks"], dependencies=[Depends(authenticate)])


MIN_SECRET_BYTES = 24
"""Fewest bytes a caller-chosen signing secret must decode to (the generated ones have 24)."""


def check_caller_secret(secret: SecretStr | None) -> None:
    """Refuse a caller-chosen webhook secret that does not decode to at least
    :data:`MIN_SECRET_BYTES` bytes (the request model's pattern already asks for that; this
    is the server's own check). Whether the bytes are random the server cannot tell: leave the
    secret out and it generates one.

    Raises:
        InvalidInputError: 422 naming ``body.secret`` (the secret itself is never echoed).
    """
    if secret is None:
        return
    raw = secret.get_secret_value().removeprefix("whsec_")
    try:
        key = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInputError("body.secret", "is not valid base64 after 'whsec_'") from None
    if len(key) < MIN_SECRET_BYTES:
        raise InvalidInputError(
            "body.secret",
            f"decodes to {len(key)} bytes; a caller-chosen secret needs at least "
            f"{MIN_SECRET_BYTES} random bytes (omit it and the server generates one)",
        )


def _webhooks(request: Request, scope: TenantScope) -> WebhookStore:
    if scope.projects is not None:
        # A subscription receives every event of the tenant, so a key that may see only some
        # projects cannot manage subscriptions or read their delivery logs.
        raise ForbiddenError(
            "an API key restricted to projects cannot manage webhooks (they carry events of "
            "every project of the tenant)"
        )
    return get_runtime(request).webhooks.scoped(scope)


@router.post(
    "/api/webhooks",
    status_code=201,
    response_model=WebhookSubscription,
    responses=PROBLEM_RESPONSES,
)
async def create_webhook(request: Request, body: WebhookCreateRequest, caller: Manager) -> Response:
    """Subscribe a URL to event types. The response carries the signing secret (only here)."""
    runtime = get_runtime(request)
    hooks = _webhooks(request, caller)
    check_body(body.model_dump(exclude={"secret"}), runtime.settings)
    check_caller_secret(body.secret)
    url = str(body.url)
    await check_webhook_url(url, allow_private=runtime.settings.webhook_allow_private)

    async def produce() -> Response:
        secret = body.secret.get_secret_value() if body.secret else generate_secret()
        row = await hooks.create(url, secret, [str(e) for e in body.events], body.description)
        model = WebhookSubscription.model_validate({**webhook_to_wire(row), "secret": secret})
        return json_response(model, 201)

    return await idempotent(request, caller, produce)


@router.get("/api/webhooks", response_model=WebhookList, responses=PROBLEM_RESPONSES)
async def list_webhooks(request: Request, caller: Manager) -> Response:
    """Every subscription (secrets are not shown)."""
    rows = await _webhooks(request, caller).all()
    return json_response(
        WebhookList(webhooks=[WebhookSubscription.model_validate(webhook_to_wire(r)) for r in rows])
    )


@router.delete("/api/webhooks/{webhook_id}", status_code=204, responses=PROBLEM_RESPONSES)
async def delete_webhook(request: Request, webhook_id: uuid.UUID, caller: Manager) -> Response:
    """Delete a subscription and its delivery history."""
    await _webhooks(request, caller).delete(webhook_id)
    return Response(status_code=204)


@router.get(
    "/api/webhooks/{webhook_id}/deliveries",
    response_model=WebhookDeliveryList,
    responses=PROBLEM_RESPONSES,
)
async def list_deliveries(
    request: Request,
    webhook_id: uuid.UUID,
    caller: Manager,
    limit: Annotated[int, Query(ge=1)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> Response:
    """The subscription's deliveries, newest first, each with every attempt."""
    runtime = get_runtime(request)
    limit = min(limit, runtime.settings.max_page_size)
    rows, total = await _webhooks(request, caller).deliveries(webhook_id, limit, offset)
    return json_response(
        WebhookDeliveryList(
            deliveries=[WebhookDelivery.model_validate(r) for r in rows],
            total=total,
            limit=limit,
            offset=offset,
        )
    )


@router.post(
    "/api/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver",
    response_model=WebhookDelivery,
    responses=PROBLEM_RESPONSES,
)
async def redeliver(
    request: Request, webhook_id: uuid.UUID, delivery_id: uuid.UUID, caller: Manager
) -> Response:
    """Send a delivery again (same ``webhook-id``, so receivers can deduplicate)."""
    row = await _webhooks(request, caller).redeliver(webhook_id, delivery_id)
    return json_response(WebhookDelivery.model_validate(row))


@router.get("/api/stats", response_model=Stats, responses=PROBLEM_RESPONSES)
async def stats(request: Request, caller: Reader) -> Response:
    """Counts by status, priority and type; queue depth and oldest runnable age (of the key's
    tenant)."""
    counts = await get_runtime(request).tasks.scoped(caller).stats()
    return json_response(Stats.model_validate(counts))
