"""The SDK against the real server (uvicorn, SQLite): every client call, async and sync."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import httpx
import pytest

from taskqueue import AsyncTaskQueueClient, TaskQueueClient
from taskqueue.errors import ConflictError, ProjectNotFoundError, TaskNotFoundError
from taskqueue.models import TaskFilters, TaskPriority, TaskResult, TaskStatus

if TYPE_CHECKING:
    from conftest import ServerProcess


async def test_task_life_cycle_through_the_async_client(
    server: ServerProcess, api_key: str
) -> None:
    async with AsyncTaskQueueClient(base_url=server.url, api_key=api_key) as client:
        project = await client.create_project(name="site", tags=["web"])
        task = await client.create_task(
            name="build", command="make", project_id=project.id, priority=TaskPriority.HIGH
        )
        assert task.status is TaskStatus.PENDING
        assert (await client.get_task(task.id)).name == "build"
        updated = await client.update_task(task.id, description="compile it")
        assert updated.description == "compile it"
        page = await client.list_tasks(TaskFilters(project_id=project.id, priority="High"))
        assert [t.id for t in page.tasks] == [task.id]
        assert page.total == 1
        [leased] = await client.claim_tasks(
            "w1", max_tasks=5, lease_seconds=30, project_id=project.id
        )
        assert (leased.id, leased.status, leased.worker_id) == (task.id, TaskStatus.RUNNING, "w1")
        beat = await client.heartbeat(
            task.id, "w1", lease_seconds=30, lease_token=leased.lease_token
        )
        assert not beat.cancel_requested
        done = await client.complete_task(
            task.id,
            "w1",
            TaskResult(exit_code=0, stdout="ok"),
            lease_token=leased.lease_token,
        )
        assert done.status is TaskStatus.COMPLETED
        assert done.result is not None
        assert done.result.stdout == "ok"
        stats = await client.get_stats()
        assert stats.tasks_by_status[TaskStatus.COMPLETED] >= 1
        assert stats.queue_depth == 0  # the only task completed: nothing is runnable
        assert stats.oldest_runnable_age_seconds is None
        await client.delete_task(task.id)
        with pytest.raises(TaskNotFoundError):
            await client.get_task(task.id)
        await client.delete_project(project.id)
        with pytest.raises(ProjectNotFoundError):
            await client.get_project(project.id)


async def test_workflow_phases_and_cancel(server: ServerProcess, api_key: str) -> None:
    async with AsyncTaskQueueClient(base_url=server.url, api_key=api_key) as client:
        flow = await client.create_task(
            name="feature", command="true", task_type="Workflow", ai_reviews_required=1
        )
        assert flow.status is TaskStatus.PLANNING
        for expected in ("Implementation", "TestCreation", "Testing", "AIReview", "Finalized"):
            flow = await client.advance_phase(flow.id, documentation=f"done before {expected}")
            assert flow.status == expected
        with pytest.raises(ConflictError):
            await client.advance_phase(flow.id)
        other = await client.create_task(name="x", command="true", task_type="Scheduled")
        cancelled = await client.cancel_task(other.id, reason="not needed")
        assert cancelled.status is TaskStatus.CANCELLED
        with pytest.raises(ConflictError) as info:
            await client.cancel_task(other.id)
        assert info.value.status_code == 409


async def test_batch_reports_each_item_and_pagination_is_stable(
    server: ServerProcess, api_key: str
) -> None:
    async with AsyncTaskQueueClient(base_url=server.url, api_key=api_key) as client:
        project = await client.create_project(name="paging")
        items = [
            {"name": f"t{i}", "command": "true", "project_id": str(project.id)} for i in range(5)
        ]
        items.append({"name": "bad", "command": "true", "project_id": str(uuid.uuid4())})
        result = await client.create_tasks(items)
        assert [r.ok for r in result.results] == [True] * 5 + [False]
        assert result.failed[0].error is not None
        assert result.failed[0].error.status == 404
        mine = TaskFilters(project_id=project.id)
        first = await client.list_tasks(mine, limit=2, offset=0)
        await client.create_task(name="late", command="true", project_id=project.id)
        second = await client.list_tasks(mine, limit=2, offset=2)
        names = [t.name for t in first.tasks + second.tasks]
        assert names == ["t0", "t1", "t2", "t3"]
        assert [t.name async for t in client.iter_tasks(mine)][-1] == "late"


def test_sync_client_many_calls(server: ServerProcess, api_key: str) -> None:
    with TaskQueueClient(base_url=server.url, api_key=api_key) as client:
        task = client.create_task(name="sync", command="true")
        for _ in range(50):
            assert client.get_task(task.id).id == task.id
        assert client.list_projects(limit=1).limit == 1


async def test_idempotency_key_replays_and_conflicts(server: ServerProcess, api_key: str) -> None:
    headers = {"Authorization": f"Bearer {api_key}", "Idempotency-Key": "k-1"}
    async with httpx.AsyncClient(base_url=server.url, headers=headers) as http:
        first = await http.post("/api/tasks", json={"name": "once", "command": "true"})
        again = await http.post("/api/tasks", json={"name": "once", "command": "true"})
        assert first.status_code == again.status_code == 201
        assert first.json()["id"] == again.json()["id"]
        assert again.headers["idempotent-replayed"] == "true"
        other = await http.post("/api/tasks", json={"name": "other", "command": "true"})
        assert other.status_code == 409
        assert other.headers["content-type"] == "application/problem+json"
        listing = await http.get("/api/tasks", params={"created_after": first.json()["created_at"]})
        assert [t["name"] for t in listing.json()["tasks"]].count("once") == 1
