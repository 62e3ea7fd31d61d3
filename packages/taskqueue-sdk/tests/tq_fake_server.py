"""A fault-injecting Task Queue API for the tests: real HTTP (uvicorn) on a free port.

It implements the contract in memory with the SDK's own models, records every request, and
can be told to answer the next matching requests with an error status, a dropped connection
or a delay.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from platform_core.testing.services import free_port
from taskqueue.models import (
    LEASE_LOST_TYPE,
    AdvancePhaseRequest,
    BatchCreateRequest,
    BatchItemResult,
    BatchResult,
    CancelRequest,
    ClaimedTask,
    ClaimRequest,
    ClaimResponse,
    CompleteRequest,
    FailRequest,
    HeartbeatRequest,
    HeartbeatResponse,
    Phase,
    ProblemDetails,
    Project,
    ProjectCreateRequest,
    ProjectList,
    ProjectUpdateRequest,
    Stats,
    Task,
    TaskCreateRequest,
    TaskList,
    TaskStatus,
    TaskType,
    TaskUpdateRequest,
    WebhookCreateRequest,
    WebhookDeliveryList,
    WebhookList,
    WebhookSubscription,
    next_phase,
)


@dataclass
class Recorded:
    """One request the server received."""

    method: str
    path: str
    headers: dict[str, str]
    at: float


@dataclass
class Fault:
    """Answer the next ``times`` requests matching ``method`` and ``path`` (a regex) badly."""

    method: str
    path: str
    kind: str  # "status" | "drop" | "delay"
    status: int = 503
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    times: int = 1


class ProblemError(Exception):
    """Raised by handlers to answer with problem details."""

    def __init__(self, status: int, title: str, detail: str, type_: str = "about:blank") -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.type = type_


def _now() -> datetime:
    return datetime.now(UTC)


def _problem(status: int, title: str, detail: str, **extra: Any) -> dict[str, Any]:
    return ProblemDetails(title=title, status=status, detail=detail, **extra).model_dump(
        mode="json", exclude_none=True
    )


class State:
    """Everything the fake server stores."""

    def __init__(self) -> None:
        self.tasks: dict[str, Task] = {}
        self.projects: dict[str, Project] = {}
        self.webhooks: dict[str, WebhookSubscription] = {}
        self.idempotency: dict[str, tuple[str, int, Any]] = {}
        self.requests: list[Recorded] = []
        self.faults: list[Fault] = []
        self.gets: dict[str, int] = {}
        self.api_key: str | None = None
        self.tokens: dict[str, str] = {}

    def check_token(self, task_id: str, token: str) -> None:
        if self.tokens.get(task_id) != token:
            raise ProblemError(409, "Lease lost", f"lease lost on {task_id}", LEASE_LOST_TYPE)

    def task(self, task_id: str) -> Task:
        if task_id not in self.tasks:
            raise ProblemError(404, "Task not found", f"no task {task_id}")
        return self.tasks[task_id]

    def project(self, project_id: str) -> Project:
        if project_id not in self.projects:
            raise ProblemError(404, "Project not found", f"no project {project_id}")
        return self.projects[project_id]


class _FaultMiddleware:
    def __init__(self, app: ASGIApp, state: State) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        method, path = scope["method"], scope["path"]
        self.state.requests.append(Recorded(method, path, headers, time.monotonic()))
        fault = self._match(method, path)
        if fault is not None and fault.kind == "delay":
            await asyncio.sleep(fault.delay)
        elif fault is not None and fault.kind == "drop":
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-length", b"1000")],
                }
            )
            await send({"type": "http.response.body", "body": b"{", "more_body": True})
            raise ConnectionAbortedError("fault injected: connection dropped")
        elif fault is not None:
            body = _problem(fault.status, "Injected fault", f"injected {fault.status}")
            response = JSONResponse(
                body, fault.status, headers=fault.headers, media_type="application/problem+json"
            )
            await response(scope, receive, send)
            return
        if self.state.api_key and path.startswith("/api"):
            bearer = headers.get("authorization", "")
            if self.state.api_key not in (bearer.removeprefix("Bearer "), headers.get("x-api-key")):
                response = JSONResponse(
                    _problem(401, "Unauthorized", "bad or missing API key"), 401
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _match(self, method: str, path: str) -> Fault | None:
        for fault in self.state.faults:
            if fault.times > 0 and fault.method == method and re.fullmatch(fault.path, path):
                fault.times -= 1
                return fault
        return None


def build_app(state: State) -> FastAPI:
    """The fake API."""
    app = FastAPI()

    @app.exception_handler(ProblemError)
    async def _problem_handler(_: Request, exc: ProblemError) -> JSONResponse:
        return JSONResponse(_problem(exc.status, exc.title, exc.detail, type=exc.type), exc.status)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errs = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
        return JSONResponse(_problem(422, "Invalid request", "invalid body", errors=errs), 422)

    def _new_task(req: TaskCreateRequest) -> Task:
        now = _now()
        data = req.model_dump()
        workflow = req.task_type is TaskType.WORKFLOW
        status = TaskStatus.PLANNING if workflow else TaskStatus.PENDING
        phases = [Phase(phase=status, started_at=now)] if workflow else []
        task = Task(
            id=uuid.uuid4(),
            created_at=now,
            updated_at=now,
            status=status,
            phases=phases,
            current_phase=status if workflow else None,
            **data,
        )
        state.tasks[str(task.id)] = task
        return task

    def _idempotent(request: Request, body: bytes) -> tuple[int, Any] | None:
        key = request.headers.get("idempotency-key")
        if key is None or key not in state.idempotency:
            return None
        digest, status, stored = state.idempotency[key]
        if digest != hashlib.sha256(body).hexdigest():
            raise ProblemError(409, "Idempotency key reused", "key reused with another body")
        return status, stored

    def _remember(request: Request, body: bytes, status: int, payload: Any) -> None:
        key = request.headers.get("idempotency-key")
        if key is not None:
            state.idempotency[key] = (hashlib.sha256(body).hexdigest(), status, payload)

    @app.post("/api/tasks", status_code=201)
    async def create_task(req: TaskCreateRequest, request: Request) -> Any:
        body = await request.body()
        if (seen := _idempotent(request, body)) is not None:
            return JSONResponse(seen[1], seen[0])
        payload = _new_task(req).model_dump(mode="json")
        _remember(request, body, 201, payload)
        return JSONResponse(payload, 201)

    @app.post("/api/tasks/batch")
    async def create_batch(req: BatchCreateRequest) -> BatchResult:
        results = []
        for index, item in enumerate(req.tasks):
            if item.name.startswith("reject"):
                error = ProblemDetails(title="Conflict", status=409, detail="rejected by name")
                results.append(BatchItemResult(index=index, ok=False, error=error))
            else:
                results.append(BatchItemResult(index=index, ok=True, task=_new_task(item)))
        return BatchResult(results=results)

    @app.get("/api/tasks/{task_id}")
    async def get_task(task_id: str) -> Task:
        task = state.task(task_id)
        state.gets[task_id] = state.gets.get(task_id, 0) + 1
        after = task.metadata.get("complete_after_gets")
        if isinstance(after, int) and state.gets[task_id] >= after and not task.is_terminal:
            task = task.model_copy(update={"status": TaskStatus.COMPLETED})
            state.tasks[task_id] = task
        return task

    @app.get("/api/tasks")
    async def list_tasks(
        limit: int = 100,
        offset: int = 0,
        cursor: str | None = None,
        status: TaskStatus | None = None,
        project_id: uuid.UUID | None = None,
        created_after: datetime | None = None,
    ) -> TaskList:
        rows = [
            t
            for t in state.tasks.values()
            if (status is None or t.status is status)
            and (project_id is None or t.project_id == project_id)
            and (created_after is None or t.created_at >= created_after)
        ]
        total: int | None = len(rows)
        start = offset
        if cursor is not None:  # here simply the id of the last task of the previous page
            ids = [str(t.id) for t in rows]
            if cursor not in ids:
                raise ProblemError(400, "Invalid cursor", "cursor is not one this server issued")
            start, total, offset = ids.index(cursor) + 1, None, 0
        page = rows[start : start + limit]
        more = start + limit < len(rows)
        return TaskList(
            tasks=page,
            total=total,
            limit=limit,
            offset=offset,
            next_cursor=str(page[-1].id) if more and page else None,
        )

    @app.patch("/api/tasks/{task_id}")
    async def update_task(task_id: str, req: TaskUpdateRequest) -> Task:
        task = state.task(task_id)
        updated = task.model_copy(
            update={**req.model_dump(exclude_unset=True), "updated_at": _now()}
        )
        state.tasks[task_id] = updated
        return updated

    @app.post("/api/tasks/{task_id}/cancel")
    async def cancel(task_id: str, req: CancelRequest | None = None) -> Task:
        task = state.task(task_id)
        if task.is_terminal:
            raise ProblemError(409, "Bad state transition", f"task is already {task.status}")
        state.tasks[task_id] = task.model_copy(update={"status": TaskStatus.CANCELLED})
        return state.tasks[task_id]

    @app.post("/api/tasks/{task_id}/advance-phase")
    async def advance(task_id: str, req: AdvancePhaseRequest) -> Task:
        task = state.task(task_id)
        nxt = next_phase(task.status)
        if nxt is None:
            raise ProblemError(409, "Bad state transition", f"{task.status} has no next phase")
        state.tasks[task_id] = task.model_copy(update={"status": nxt, "current_phase": nxt})
        return state.tasks[task_id]

    @app.delete("/api/tasks/{task_id}", status_code=204)
    async def delete_task(task_id: str) -> Response:
        state.task(task_id)
        del state.tasks[task_id]
        return Response(status_code=204)

    @app.post("/api/workers/claim")
    async def claim(req: ClaimRequest) -> ClaimResponse:
        runnable = sorted(
            (t for t in state.tasks.values() if t.status is TaskStatus.PENDING),
            key=lambda t: (-t.priority.rank, t.created_at),
        )[: req.max_tasks]
        lease = _now() + timedelta(seconds=req.lease_seconds)
        claimed = []
        for task in runnable:
            leased = task.model_copy(
                update={
                    "status": TaskStatus.RUNNING,
                    "worker_id": req.worker_id,
                    "lease_expires_at": lease,
                    "attempts": task.attempts + 1,
                }
            )
            state.tasks[str(task.id)] = leased
            token = uuid.uuid4().hex
            state.tokens[str(task.id)] = token
            claimed.append(ClaimedTask(**leased.model_dump(), lease_token=token))
        return ClaimResponse(tasks=claimed)

    @app.post("/api/tasks/{task_id}/heartbeat")
    async def heartbeat(task_id: str, req: HeartbeatRequest) -> HeartbeatResponse:
        task = state.task(task_id)
        state.check_token(task_id, req.lease_token)
        lease = _now() + timedelta(seconds=req.lease_seconds)
        cancelled = task.status is TaskStatus.CANCELLED
        if not cancelled:
            state.tasks[task_id] = task.model_copy(update={"lease_expires_at": lease})
        return HeartbeatResponse(
            task_id=task.id, lease_expires_at=lease, cancel_requested=cancelled
        )

    @app.post("/api/tasks/{task_id}/complete")
    async def complete(task_id: str, req: CompleteRequest) -> Task:
        task = state.task(task_id)
        state.check_token(task_id, req.lease_token)
        if task.status is not TaskStatus.RUNNING:
            raise ProblemError(409, "Bad state transition", f"task is {task.status}")
        state.tasks[task_id] = task.model_copy(
            update={"status": TaskStatus.COMPLETED, "result": req.result}
        )
        return state.tasks[task_id]

    @app.post("/api/tasks/{task_id}/fail")
    async def fail(task_id: str, req: FailRequest) -> Task:
        task = state.task(task_id)
        state.check_token(task_id, req.lease_token)
        # Like the real server: the attempt is counted at the claim; requeue un-counts it;
        # attempts left mean Pending again (retry_delay is not simulated), else Failed.
        attempts = task.attempts - 1 if req.requeue else task.attempts - 1 + req.attempts
        retry = req.requeue or attempts <= task.retry_attempts
        state.tasks[task_id] = task.model_copy(
            update={
                "status": TaskStatus.PENDING if retry else TaskStatus.FAILED,
                "result": req.result,
                "attempts": attempts,
            }
        )
        return state.tasks[task_id]

    @app.post("/api/projects", status_code=201)
    async def create_project(req: ProjectCreateRequest) -> Project:
        now = _now()
        project = Project(id=uuid.uuid4(), created_at=now, updated_at=now, **req.model_dump())
        state.projects[str(project.id)] = project
        return project

    @app.get("/api/projects/{project_id}")
    async def get_project(project_id: str) -> Project:
        return state.project(project_id)

    @app.get("/api/projects")
    async def list_projects(limit: int = 100, offset: int = 0) -> ProjectList:
        rows = list(state.projects.values())
        return ProjectList(
            projects=rows[offset : offset + limit], total=len(rows), limit=limit, offset=offset
        )

    @app.patch("/api/projects/{project_id}")
    async def update_project(project_id: str, req: ProjectUpdateRequest) -> Project:
        project = state.project(project_id)
        state.projects[project_id] = project.model_copy(update=req.model_dump(exclude_unset=True))
        return state.projects[project_id]

    @app.delete("/api/projects/{project_id}", status_code=204)
    async def delete_project(project_id: str) -> Response:
        state.project(project_id)
        del state.projects[project_id]
        return Response(status_code=204)

    @app.post("/api/webhooks", status_code=201)
    async def create_webhook(req: WebhookCreateRequest) -> JSONResponse:
        from taskqueue.webhooks import generate_secret

        secret = req.secret.get_secret_value() if req.secret else generate_secret()
        sub = WebhookSubscription(
            id=uuid.uuid4(),
            url=str(req.url),
            events=req.events,
            description=req.description,
            created_at=_now(),
            secret=secret,
        )  # type: ignore[arg-type]
        state.webhooks[str(sub.id)] = sub.model_copy(update={"secret": None})
        return JSONResponse(sub.model_dump(mode="json"), 201)

    @app.get("/api/webhooks")
    async def list_webhooks() -> WebhookList:
        return WebhookList(webhooks=list(state.webhooks.values()))

    @app.delete("/api/webhooks/{webhook_id}", status_code=204)
    async def delete_webhook(webhook_id: str) -> Response:
        if state.webhooks.pop(webhook_id, None) is None:
            raise ProblemError(404, "Webhook not found", f"no webhook {webhook_id}")
        return Response(status_code=204)

    @app.get("/api/webhooks/{webhook_id}/deliveries")
    async def deliveries(webhook_id: str, limit: int = 100, offset: int = 0) -> WebhookDeliveryList:
        return WebhookDeliveryList(deliveries=[], total=0, limit=limit, offset=offset)

    @app.get("/api/stats")
    async def stats() -> Stats:
        by_status: dict[TaskStatus, int] = {}
        for task in state.tasks.values():
            by_status[task.status] = by_status.get(task.status, 0) + 1
        return Stats(
            tasks_total=len(state.tasks),
            tasks_by_status=by_status,
            projects_total=len(state.projects),
        )

    return app


class FakeServer:
    """The fake API served by uvicorn in a background thread."""

    def __init__(self) -> None:
        self.state = State()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        app = _FaultMiddleware(build_app(self.state), self.state)
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_level="critical",
            lifespan="off",
            ws="none",
            http="h11",
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def start(self) -> None:
        """Start serving and wait until the port accepts connections."""
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("fake server did not start within 10 s")
            time.sleep(0.01)

    def stop(self) -> None:
        """Stop serving."""
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def reset(self) -> None:
        """Forget all data, requests and faults."""
        self.state.__init__()  # type: ignore[misc]

    def fault(self, method: str, path: str, kind: str = "status", **kw: Any) -> Fault:
        """Inject a fault; see :class:`Fault`."""
        fault = Fault(method, path, kind, **kw)
        self.state.faults.append(fault)
        return fault

    def requests_to(self, method: str, path: str) -> list[Recorded]:
        """The recorded requests matching ``method`` and ``path`` (a regex)."""
        return [r for r in self.state.requests if r.method == method and re.fullmatch(path, r.path)]
