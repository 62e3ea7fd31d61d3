"""Batched reports (``POST /api/workers/report``) on SQLite and PostgreSQL: each report is
judged on its own lease token, replays are accepted and change nothing, another tenant's task
is unknown, and a refused body writes nothing."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import httpx
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from taskqueue import AsyncTaskQueueClient, TaskQueueClient
from taskqueue._reporter import Pending, Refill, Reporter
from taskqueue.models import (
    ClaimedTask,
    ClaimResponse,
    ReportOutcome,
    ReportResponse,
    TaskReport,
    TaskResult,
)
from taskqueue_server.db.engine import session_factory
from taskqueue_server.db.lease_reports import Report
from taskqueue_server.db.schema import TaskRow, utcnow
from taskqueue_server.db.tasks import TaskStore
from taskqueue_server.db.tenancy import Role, TenantScope

if TYPE_CHECKING:
    from conftest import NewKey, Serve, ServerProcess


async def _tasks(tasks: TaskStore, count: int, **fields: object) -> list[uuid.UUID]:
    data = [{"name": f"t{i}", "command": "true", **fields} for i in range(count)]
    return [uuid.UUID(t.to_wire()["id"]) for t in await tasks.create_many(data)]


async def _keys_and_tasks(
    http: httpx.AsyncClient, new_key: NewKey, count: int
) -> tuple[dict[str, str], dict[str, str]]:
    """An admin's and a worker's key headers, after ``count`` new tasks ``t0``, ``t1``, ..."""
    admin = await new_key(http, "default", Role.ADMIN)
    worker = await new_key(http, "default", Role.WORKER)
    for i in range(count):
        await http.post("/api/tasks", json={"name": f"t{i}", "command": "true"}, headers=admin)
    return admin, worker


async def test_one_batch_completes_fails_and_releases_and_replays_change_nothing(
    tasks: TaskStore,
) -> None:
    await _tasks(tasks, 3, retry_attempts=2, retry_delay=0)
    leased, _ = await tasks.claim("w", 3, 30)
    done, failed, released = leased
    batch = [
        Report(done.row.id, str(done.row.lease_token), "complete", {"exit_code": 0}),
        Report(failed.row.id, str(failed.row.lease_token), "fail", {"exit_code": 3}),
        Report(released.row.id, str(released.row.lease_token), "release", {"error": "bye"}),
    ]
    answers, changes = await tasks.report_many("w", batch)
    assert [(a.accepted, a.status, a.lease_lost) for a in answers] == [
        (True, "Completed", False),
        (True, "Pending", False),
        (True, "Pending", False),
    ]
    assert [(c.task.row.id, c.event_type) for c in changes] == [
        (done.row.id, "task.completed"),
        (failed.row.id, "task.updated"),
        (released.row.id, "task.updated"),
    ]
    assert (await tasks.get(done.row.id)).row.result == {"exit_code": 0}
    assert (await tasks.get(failed.row.id)).row.attempts == 1
    assert (await tasks.get(released.row.id)).row.attempts == 0  # a release counts no run
    again, none = await tasks.report_many("w", batch)
    assert [(a.accepted, a.status) for a in again] == [(a.accepted, a.status) for a in answers]
    assert none == []


async def test_a_stale_token_is_that_reports_answer_and_the_others_are_recorded(
    tasks: TaskStore, engine: AsyncEngine
) -> None:
    first_id, second_id = await _tasks(tasks, 2)
    [old_first, old_second], _ = await tasks.claim("old", 2, 30)
    async with engine.begin() as conn:  # the first lease runs out and goes to another worker
        await conn.execute(
            update(TaskRow)
            .where(TaskRow.id == first_id)
            .values(lease_expires_at=utcnow() - timedelta(seconds=1))
        )
    [new_first], _ = await tasks.claim("new", 1, 30)
    assert new_first.row.id == first_id
    answers, changes = await tasks.report_many(
        "old",
        [
            Report(first_id, str(old_first.row.lease_token), "complete", {"exit_code": 0}),
            Report(second_id, str(old_second.row.lease_token), "complete", {"exit_code": 0}),
            Report(uuid.uuid4(), "whatever", "complete", {"exit_code": 0}),
        ],
    )
    lost, kept, unknown = answers
    assert (lost.accepted, lost.lease_lost, lost.status) == (False, True, "Running")
    assert "lease lost" in str(lost.error)
    assert (kept.accepted, kept.status) == (True, "Completed")
    assert (unknown.accepted, unknown.status, unknown.lease_lost) == (False, None, False)
    assert [c.task.row.id for c in changes] == [second_id]
    current = await tasks.get(first_id)
    assert (current.row.status, current.row.lease_owner) == ("Running", "new")
    assert current.row.lease_token == new_first.row.lease_token  # the new holder keeps it


async def test_another_tenants_task_is_unknown_to_a_batch(
    tasks: TaskStore, engine: AsyncEngine
) -> None:
    [task_id] = await _tasks(tasks, 1)
    [leased], _ = await tasks.claim("w", 1, 30)
    other = TaskStore(session_factory(engine), engine.dialect.name).scoped(TenantScope("other"))
    report = Report(task_id, str(leased.row.lease_token), "complete", {"exit_code": 0})
    [answer], changes = await other.report_many("w", [report])
    assert (answer.accepted, answer.status, changes) == (False, None, [])
    assert (await tasks.get(task_id)).row.status == "Running"


async def test_a_completion_in_a_batch_unblocks_its_dependents(tasks: TaskStore) -> None:
    [first] = await _tasks(tasks, 1)
    [then] = await _tasks(tasks, 1, dependencies=[first])
    [leased], _ = await tasks.claim("w", 5, 30)
    assert leased.row.id == first  # the dependent waits
    report = Report(first, str(leased.row.lease_token), "complete", {"exit_code": 0})
    _, [change] = await tasks.report_many("w", [report])
    assert change.unblocks
    [after], _ = await tasks.claim("w", 5, 30)
    assert (after.row.id, after.dependencies) == (then, [first])  # a claim lists them
    assert leased.dependencies == []


async def test_the_report_route_answers_each_report_and_refuses_unstorable_bodies(
    serve: Serve, new_key: NewKey, database_url: str
) -> None:
    async with serve(database_url) as http:
        admin, worker = await _keys_and_tasks(http, new_key, 2)
        claim = await http.post(
            "/api/workers/claim", json={"worker_id": "w", "max_tasks": 2}, headers=worker
        )
        one, two = ClaimResponse.model_validate(claim.json()).tasks
        item = {"task_id": str(one.id), "lease_token": one.lease_token, "outcome": "complete"}
        poisoned = json.dumps({**item, "result": {"exit_code": 0, "error": "@"}})
        bad = '{"worker_id": "w", "reports": [' + poisoned.replace("@", "\\udfff") + "]}"
        refused = await http.post(
            "/api/workers/report",
            content=bad,
            headers={**worker, "Content-Type": "application/json"},
        )
        assert refused.status_code == 422, refused.text
        still = await http.get(f"/api/tasks/{one.id}", headers=admin)
        assert still.json()["status"] == "Running"  # nothing of the refused batch was written
        body = {
            "worker_id": "w",
            "reports": [
                {**item, "result": {"exit_code": 0, "stdout": "ok\x00"}},
                {
                    "task_id": str(two.id),
                    "lease_token": "stale",
                    "outcome": "fail",
                    "result": {"exit_code": 1},
                },
            ],
        }
        answer = await http.post("/api/workers/report", json=body, headers=worker)
        assert answer.status_code == 200, answer.text
        first, second = ReportResponse.model_validate(answer.json()).results
        assert (first.task_id, first.accepted, first.status) == (one.id, True, "Completed")
        assert (second.accepted, second.lease_lost, second.status) == (False, True, "Running")
        done = (await http.get(f"/api/tasks/{one.id}", headers=admin)).json()
        assert done["result"]["stdout"] == "ok\ufffd"
        too_many = {"worker_id": "w", "reports": [body["reports"][0]] * 101}
        over = await http.post("/api/workers/report", json=too_many, headers=worker)
        assert over.status_code == 422
        empty = await http.post(
            "/api/workers/report", json={"worker_id": "w", "reports": []}, headers=worker
        )
        assert empty.status_code == 422


async def test_the_async_sdk_reports_in_batches(
    serve: Serve, new_key: NewKey, database_url: str
) -> None:
    async with serve(database_url) as http:
        _, worker = await _keys_and_tasks(http, new_key, 3)
        async with _sdk(worker, http.app) as client:  # type: ignore[attr-defined]
            claimed = await client.claim_tasks("w", max_tasks=3)
            reports = [_report(t, "complete", 0) for t in claimed[:2]]
            results = await client.report_tasks("w", reports)
            assert [(r.task_id, r.accepted) for r in results] == [(t.id, True) for t in claimed[:2]]
            [lost] = await client.report_tasks("w", [_report(claimed[2], "fail", 1, "stale")])
            assert (lost.accepted, lost.lease_lost) == (False, True)


async def test_a_report_that_claims_refills_the_slots_it_frees(
    serve: Serve, new_key: NewKey, database_url: str
) -> None:
    async with serve(database_url) as http:
        admin, worker = await _keys_and_tasks(http, new_key, 4)
        async with _sdk(worker, http.app) as client:  # type: ignore[attr-defined]
            first = await client.claim_tasks("w", max_tasks=2)
            both = await client.report_and_claim(
                "w", [_report(t, "complete", 0) for t in first], claim=3, lease_seconds=30
            )
            assert [(r.task_id, r.accepted, r.status) for r in both.results] == [
                (t.id, True, "Completed") for t in first
            ]
            # the two tasks left, leased to this worker under a new token
            assert len(both.tasks) == 2
            assert not {t.id for t in both.tasks} & {t.id for t in first}
            for task in both.tasks:
                assert task.lease_token not in (first[0].lease_token, "")
                shown = (await http.get(f"/api/tasks/{task.id}", headers=admin)).json()
                assert (shown["status"], shown["worker_id"]) == ("Running", "w")
            # the leases it handed out are real: their reports are taken
            again = await client.report_and_claim(
                "w", [_report(t, "complete", 0) for t in both.tasks], claim=2
            )
            assert all(r.accepted for r in again.results)
            assert again.tasks == []
            # a replay of a report that claimed is still a replay; it claims nothing left
            replay = await client.report_tasks("w", [_report(t, "complete", 0) for t in first])
            assert all(r.accepted for r in replay)


async def test_a_refused_report_that_claimed_tells_a_bad_report_from_a_refused_claim(
    serve: Serve, new_key: NewKey, database_url: str
) -> None:
    async with serve(database_url) as http:
        _, worker = await _keys_and_tasks(http, new_key, 6)
        async with _sdk(worker, http.app) as client:  # type: ignore[attr-defined]
            first = await client.claim_tasks("w", max_tasks=3)
            started: list[ClaimedTask] = []
            alone: list[Pending] = []

            async def single(pending: Pending) -> bool:
                alone.append(pending)
                return False

            refill = Refill(lambda n: n, started.extend, 30)
            reporter = Reporter(client, "w", asyncio.Event(), single, (0.01, 0.1), refill)

            def pending(task: ClaimedTask, result: TaskResult) -> Pending:
                return Pending(task, asyncio.Event(), "complete", result)

            # A bad result (the server refuses a negative duration) refuses the batch with
            # or without the claim: it goes alone, and the worker still claims in reports.
            bad = pending(first[0], TaskResult.model_construct(exit_code=0, duration=-1.0))
            await reporter.report(bad)
            await asyncio.sleep(0)
            assert alone == [bad]
            assert await reporter.report(pending(first[1], TaskResult(exit_code=0)))
            assert len(started) == 1  # claimed along with the report
            await reporter.close()
        # A server from before the claim in reports refuses the field: the batch is taken
        # without it, and the worker claims apart from then on.
        older = _without_claims_in_reports(http.app)  # type: ignore[attr-defined]
        async with _sdk(worker, older) as client:
            refill = Refill(lambda n: n, started.extend, 30)
            reporter = Reporter(client, "w", asyncio.Event(), single, (0.01, 0.1), refill)
            assert await reporter.report(pending(first[2], TaskResult(exit_code=0)))
            assert reporter._refill is None
            assert len(started) == 1
            assert alone == [bad]
            await reporter.close()


def _without_claims_in_reports(app: Any) -> Any:
    """The server as one from before the claim in reports answers a report that claims."""

    async def older(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != "/api/workers/report":
            await app(scope, receive, send)
            return
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        if b'"claim"' in body:
            problem = b'{"title": "Unprocessable", "status": 422, "detail": "claim: unknown"}'
            headers = [(b"content-type", b"application/problem+json")]
            await send({"type": "http.response.start", "status": 422, "headers": headers})
            await send({"type": "http.response.body", "body": problem})
            return

        async def again() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        await app(scope, again, send)

    return older


def _sdk(worker: dict[str, str], app: Any) -> AsyncTaskQueueClient:
    """The async SDK with the worker's key, talking to ``app`` in process."""
    transport = httpx.ASGITransport(app=app)
    return AsyncTaskQueueClient(
        "http://tq",
        worker["X-API-Key"],
        http_client=httpx.AsyncClient(transport=transport, base_url="http://tq"),
    )


def _report(task: ClaimedTask, outcome: ReportOutcome, code: int, token: str = "") -> TaskReport:
    return TaskReport(
        task_id=task.id,
        lease_token=token or task.lease_token,
        outcome=outcome,
        result=TaskResult(exit_code=code),
    )


async def test_the_sync_sdk_reports_in_batches(server: ServerProcess, api_key: str) -> None:
    with TaskQueueClient(server.url, api_key) as client:
        project = client.create_project(name="batch-reports")
        for i in range(2):
            client.create_task(name=f"t{i}", command="true", project_id=project.id)
        claimed = client.claim_tasks("w", max_tasks=2, project_id=project.id)
        results = client.report_tasks("w", [_report(t, "release", 0) for t in claimed])
        assert [(r.accepted, r.status) for r in results] == [(True, "Pending")] * 2
