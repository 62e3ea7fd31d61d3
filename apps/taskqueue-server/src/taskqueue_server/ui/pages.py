"""The overview, workers and webhooks pages (and their live fragments), and redelivery."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from taskqueue_server.db.schema import utcnow
from taskqueue_server.db.tenancy import Right
from taskqueue_server.errors import TaskQueueServerError
from taskqueue_server.ui.chart import throughput_chart
from taskqueue_server.ui.context import Console, Visit
from taskqueue_server.ui.workers import group_leases

__all__ = ["pages_routes"]

DELIVERIES_SHOWN = 50
"""Deliveries listed per subscription (newest first)."""


async def _overview(visit: Visit) -> dict[str, Any]:
    stats = await visit.tasks.stats()
    now = utcnow()
    failed = await visit.console.failed_since(now - timedelta(hours=1))
    throughput = await visit.console.throughput()
    workers = group_leases(await visit.console.leases(), now)
    return {
        "stats": stats,
        "running": stats["tasks_by_status"].get("Running", 0),
        "failed_hour": failed,
        "chart": throughput_chart(throughput),
        "completed_hour": sum(throughput.completed),
        "workers_alive": sum(1 for w in workers if w.alive),
    }


def pages_routes(console: Console) -> APIRouter:
    """``/ui/`` (overview), ``/ui/workers``, ``/ui/webhooks`` and their fragments."""
    router = console.web.page_router()

    @router.get("/")
    async def overview(request: Request) -> Response:
        visit = await console.visit(request)
        if (refused := console.need(visit, Right.READ)) is not None:
            return refused
        return console.render(visit, "taskqueue_ui/overview.html", await _overview(visit))

    @router.get("/overview/live")
    async def overview_live(request: Request) -> Response:
        visit = await console.visit(request)
        if (refused := console.need(visit, Right.READ)) is not None:
            return refused
        return console.render(visit, "taskqueue_ui/overview_body.html", await _overview(visit))

    async def workers_view(request: Request, template: str) -> Response:
        visit = await console.visit(request)
        if (refused := console.need(visit, Right.READ)) is not None:
            return refused
        now = utcnow()
        workers = group_leases(await visit.console.leases(), now)
        return console.render(visit, template, {"workers": workers, "now": now})

    @router.get("/workers")
    async def workers(request: Request) -> Response:
        return await workers_view(request, "taskqueue_ui/workers.html")

    @router.get("/workers/live")
    async def workers_live(request: Request) -> Response:
        return await workers_view(request, "taskqueue_ui/workers_body.html")

    async def webhooks_view(request: Request, template: str) -> Response:
        visit = await console.visit(request)
        if not visit.can_manage:
            return console.refuse(
                visit,
                403,
                "Not allowed",
                "Webhooks are managed by admin keys that are not restricted to projects "
                f"(a subscription receives every event of the tenant); this key is a "
                f"{visit.scope.role} key.",
            )
        hooks = await visit.webhooks.all()
        chosen = request.query_params.get("hook")
        selected = next((h for h in hooks if str(h.id) == chosen), hooks[0] if hooks else None)
        deliveries: list[dict[str, Any]] = []
        total = 0
        if selected is not None:
            deliveries, total = await visit.webhooks.deliveries(selected.id, DELIVERIES_SHOWN, 0)
        return console.render(
            visit,
            template,
            {
                "hooks": hooks,
                "selected": selected,
                "deliveries": deliveries,
                "total": total,
                "redelivered": request.query_params.get("redelivered") == "1",
            },
        )

    @router.get("/webhooks")
    async def webhooks(request: Request) -> Response:
        return await webhooks_view(request, "taskqueue_ui/webhooks.html")

    @router.get("/webhooks/live")
    async def webhooks_live(request: Request) -> Response:
        return await webhooks_view(request, "taskqueue_ui/webhooks_body.html")

    @router.post("/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver")
    async def redeliver(request: Request, webhook_id: str, delivery_id: str) -> Response:
        visit = await console.visit(request)
        if not visit.can_manage:
            return console.refuse(
                visit, 403, "Not allowed", "Only admin keys may redeliver. Nothing was changed."
            )
        try:
            hook, delivery = uuid.UUID(webhook_id), uuid.UUID(delivery_id)
        except ValueError:
            return console.refuse(visit, 404, "Not found", "No such webhook delivery.")
        try:
            await visit.webhooks.redeliver(hook, delivery)
        except TaskQueueServerError as exc:
            return console.refuse(visit, exc.status, exc.title, exc.message)
        root = request.scope.get("root_path", "").rstrip("/")
        return RedirectResponse(
            f"{root}{console.web.prefix}/webhooks?hook={hook}&redelivered=1", 303
        )

    return router
