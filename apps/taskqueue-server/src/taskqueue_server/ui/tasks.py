"""The tasks list (filters, keyset pages, bulk actions) and the task page (details, timeline,
cancel / retry / delete)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from taskqueue.models import TaskPriority, TaskStatus
from taskqueue_server.db.task_base import Change
from taskqueue_server.db.task_retry import RETRYABLE_STATUSES
from taskqueue_server.db.tenancy import Right
from taskqueue_server.errors import NotFoundError, TaskQueueServerError
from taskqueue_server.state import FINAL_STATUSES
from taskqueue_server.ui.context import Console, Visit
from taskqueue_server.ui.listing import Filters, load_page
from taskqueue_server.ui.timeline import attempts_view, timeline

__all__ = ["tasks_routes"]

MAX_BULK = 200
"""Most tasks one bulk action takes."""
_NOTICES = {
    "cancelled": "The task was cancelled.",
    "retried": "The task was queued to run again.",
    "deleted": "The task was deleted.",
}


async def _list_context(visit: Visit, params: Any, selected: set[str]) -> dict[str, Any]:
    filters = Filters.parse(params)
    page = await load_page(visit.tasks, filters, params.get("cursor") or None)
    projects, _ = await visit.projects.page([], 200, 0)
    return {
        "filters": filters,
        "page": page,
        "projects": projects,
        "statuses": list(TaskStatus),
        "priorities": list(TaskPriority),
        "selected": selected,
        "final": FINAL_STATUSES,
    }


def tasks_routes(console: Console) -> APIRouter:
    """``/ui/tasks``, its rows fragment, bulk actions, and ``/ui/tasks/{id}`` with actions."""
    router = console.web.page_router()

    @router.get("/tasks")
    async def tasks_page(request: Request) -> Response:
        visit = await console.visit(request)
        if (refused := console.need(visit, Right.READ)) is not None:
            return refused
        try:
            context = await _list_context(visit, request.query_params, set())
        except TaskQueueServerError as exc:
            return console.refuse(visit, exc.status, exc.title, exc.message)
        params = request.query_params
        notice = None
        if params.get("bulk") in ("cancel", "retry"):
            verb = "cancelled" if params["bulk"] == "cancel" else "queued to run again"
            notice = f"{_int(params.get('ok'))} task(s) {verb}"
            skipped = _int(params.get("skipped"))
            if skipped:
                notice += f"; {skipped} skipped (already finished, not found or not allowed)"
            notice += "."
        elif params.get("done") == "deleted":
            notice = _NOTICES["deleted"]
        return console.render(visit, "taskqueue_ui/tasks.html", {**context, "notice": notice})

    @router.get("/tasks/rows")
    async def task_rows(request: Request) -> Response:
        """The table body alone (live refresh), keeping the boxes that were ticked."""
        visit = await console.visit(request)
        if (refused := console.need(visit, Right.READ)) is not None:
            return refused
        selected = set(request.query_params.getlist("task_id"))
        try:
            context = await _list_context(visit, request.query_params, selected)
        except TaskQueueServerError as exc:
            return console.refuse(visit, exc.status, exc.title, exc.message)
        return console.render(visit, "taskqueue_ui/task_rows.html", context)

    @router.post("/tasks/bulk")
    async def bulk(request: Request) -> Response:
        visit = await console.visit(request)
        if (refused := console.need(visit, Right.WRITE_TASKS)) is not None:
            return refused
        form = await request.form()
        action = form.get("action")
        if action not in ("cancel", "retry"):
            return console.refuse(visit, 422, "Invalid action", "Choose cancel or retry.")
        ids = [v for v in form.getlist("task_id") if isinstance(v, str)][: MAX_BULK + 1]
        if not ids or len(ids) > MAX_BULK:
            return console.refuse(
                visit, 422, "No tasks chosen", f"Tick between 1 and {MAX_BULK} tasks first."
            )
        ok = skipped = 0
        for raw in ids:
            try:
                changes = await _act(visit, str(action), uuid.UUID(raw))
            except (ValueError, TaskQueueServerError):
                skipped += 1  # counted and shown on the page
                continue
            await console.runtime.announce(changes)
            ok += 1
        back = form.get("back")
        query = back if isinstance(back, str) and _plain_query(back) else ""
        sep = "&" if query else ""
        return RedirectResponse(
            f"{_root(request)}{console.web.prefix}/tasks?{query}{sep}bulk={action}&ok={ok}"
            f"&skipped={skipped}",
            303,
        )

    @router.get("/tasks/{task_id}")
    async def task_page(request: Request, task_id: str) -> Response:
        visit = await console.visit(request)
        return await _task_view(console, visit, task_id, "taskqueue_ui/task.html")

    @router.get("/tasks/{task_id}/live")
    async def task_live(request: Request, task_id: str) -> Response:
        visit = await console.visit(request)
        return await _task_view(console, visit, task_id, "taskqueue_ui/task_body.html")

    @router.post("/tasks/{task_id}/{action}")
    async def task_action(request: Request, task_id: str, action: str) -> Response:
        visit = await console.visit(request)
        if action not in ("cancel", "retry", "delete"):
            return console.refuse(visit, 404, "Not found", "There is no such action.")
        if (refused := console.need(visit, Right.WRITE_TASKS)) is not None:
            return refused
        try:
            changes = await _act(visit, action, _task_id(task_id))
        except TaskQueueServerError as exc:
            return console.refuse(visit, exc.status, exc.title, exc.message)
        await console.runtime.announce(changes)
        base = f"{_root(request)}{console.web.prefix}/tasks"
        if action == "delete":
            return RedirectResponse(f"{base}?done=deleted", 303)
        done = "cancelled" if action == "cancel" else "retried"
        return RedirectResponse(f"{base}/{task_id}?done={done}", 303)

    return router


async def _act(visit: Visit, action: str, task_id: uuid.UUID) -> list[Change]:
    if action == "cancel":
        return await visit.tasks.cancel(task_id, "cancelled in the web console")
    if action == "retry":
        return await visit.tasks.retry(task_id)
    return await visit.tasks.delete(task_id)


async def _task_view(console: Console, visit: Visit, raw_id: str, template: str) -> Response:
    if (refused := console.need(visit, Right.READ)) is not None:
        return refused
    try:
        task_id = _task_id(raw_id)
        task = await visit.tasks.get_wire(task_id)
    except TaskQueueServerError as exc:
        return console.refuse(visit, exc.status, exc.title, exc.message)
    upstream_ids = [uuid.UUID(str(d)) for d in task.get("dependencies") or []]
    names = await visit.console.names(upstream_ids)
    upstream = [(d, *names.get(d, ("(not visible)", "-"))) for d in upstream_ids]
    downstream = await visit.console.dependents(task_id)
    done = visit.request.query_params.get("done")
    return console.render(
        visit,
        template,
        {
            "task": task,
            "upstream": upstream,
            "downstream": downstream,
            "timeline": timeline(task),
            "attempts": attempts_view(task),
            "final": task["status"] in FINAL_STATUSES,
            "retryable": task["status"] in RETRYABLE_STATUSES and not task.get("current_phase"),
            "notice": _NOTICES.get(done) if isinstance(done, str) else None,
        },
    )


def _task_id(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise NotFoundError("task", raw[:64]) from None


def _int(value: str | None) -> int:
    return int(value) if value is not None and value.isdigit() and len(value) < 7 else 0


def _plain_query(value: str) -> bool:
    allowed = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~%=&+")
    return len(value) < 600 and set(value) <= allowed


def _root(request: Request) -> str:
    root: str = request.scope.get("root_path", "")
    return root.rstrip("/")
