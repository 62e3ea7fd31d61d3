"""Webhook subscription routes, delivery history and redelivery; and ``/api/stats``."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

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
    Caller,
    authenticate,
    get_runtime,
    idempotent,
    json_response,
)
from taskqueue_server.db.webhooks import webhook_to_wire
from taskqueue_server.ssrf import check_webhook_url

__all__ = ["router"]

router = APIRouter(tags=["webhooks"], dependencies=[Depends(authenticate)])


@router.post(
    "/api/webhooks",
    status_code=201,
    response_model=WebhookSubscription,
    responses=PROBLEM_RESPONSES,
)
async def create_webhook(request: Request, body: WebhookCreateRequest, caller: Caller) -> Response:
    """Subscribe a URL to event types. The response carries the signing secret (only here)."""
    runtime = get_runtime(request)
    url = str(body.url)
    await check_webhook_url(url, allow_private=runtime.settings.webhook_allow_private)

    async def produce() -> Response:
        secret = body.secret.get_secret_value() if body.secret else generate_secret()
        row = await runtime.webhooks.create(
            url, secret, [str(e) for e in body.events], body.description
        )
        model = WebhookSubscription.model_validate({**webhook_to_wire(row), "secret": secret})
        return json_response(model, 201)

    return await idempotent(request, caller, produce)


@router.get("/api/webhooks", response_model=WebhookList, responses=PROBLEM_RESPONSES)
async def list_webhooks(request: Request) -> Response:
    """Every subscription (secrets are not shown)."""
    rows = await get_runtime(request).webhooks.all()
    return json_response(
        WebhookList(webhooks=[WebhookSubscription.model_validate(webhook_to_wire(r)) for r in rows])
    )


@router.delete("/api/webhooks/{webhook_id}", status_code=204, responses=PROBLEM_RESPONSES)
async def delete_webhook(request: Request, webhook_id: uuid.UUID) -> Response:
    """Delete a subscription and its delivery history."""
    await get_runtime(request).webhooks.delete(webhook_id)
    return Response(status_code=204)


@router.get(
    "/api/webhooks/{webhook_id}/deliveries",
    response_model=WebhookDeliveryList,
    responses=PROBLEM_RESPONSES,
)
async def list_deliveries(
    request: Request,
    webhook_id: uuid.UUID,
    limit: Annotated[int, Query(ge=1)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> Response:
    """The subscription's deliveries, newest first, each with every attempt."""
    runtime = get_runtime(request)
    limit = min(limit, runtime.settings.max_page_size)
    rows, total = await runtime.webhooks.deliveries(webhook_id, limit, offset)
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
async def redeliver(request: Request, webhook_id: uuid.UUID, delivery_id: uuid.UUID) -> Response:
    """Send a delivery again (same ``webhook-id``, so receivers can deduplicate)."""
    row = await get_runtime(request).webhooks.redeliver(webhook_id, delivery_id)
    return json_response(WebhookDelivery.model_validate(row))


@router.get("/api/stats", response_model=Stats, responses=PROBLEM_RESPONSES)
async def stats(request: Request) -> Response:
    """Counts by status, priority and type; queue depth and oldest runnable age."""
    return json_response(Stats.model_validate(await get_runtime(request).tasks.stats()))
