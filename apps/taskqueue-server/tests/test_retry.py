"""Retry: a Failed or Cancelled task runs again, with the dependents it kept from running;
store tests on SQLite and PostgreSQL, the route through the SDK against the real server."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import pytest

from taskqueue import AsyncTaskQueueClient
from taskqueue.errors import ConflictError, TaskNotFoundError
from taskqueue.models import TaskResult, TaskStatus
from taskqueue_server.db.tasks import TaskStore
from taskqueue_server.errors import InvalidTransitionError

if TYPE_CHECKING:
    from conftest import ServerProcess


async def _create(tasks: TaskStore, name: str, **fields: object) -> uuid.UUID:
    [stored] = await tasks.create_many([{"name": name, "command": "false", **fields}])
    return stored.row.id


async def _fail_for_good(tasks: TaskStore, task_id: uuid.UUID) -> None:
    [leased], _ = await tasks.claim("w", 1, 30)
    assert leased.row.id == task_id
    await tasks.fail(task_id, "w", str(leased.row.lease_token), {"exit_code": 1})


async def test_retry_requeues_the_task_and_the_dependents_it_kept_from_running(
    tasks: TaskStore,
) -> None:
    root = await _create(tasks, "root", retry_attempts=0)
    child = await _create(tasks, "child", dependencies=[root])
    grandchild = await _create(tasks, "grandchild", dependencies=[child])
    await _fail_for_good(tasks, root)
    assert (await tasks.get(grandchild)).row.status == "Failed"

    changes = await tasks.retry(root)

    assert [c.task.row.id for c in changes] == [root, child, grandchild]
    for task_id in (root, child, grandchild):
        row = (await tasks.get(task_id)).row
        assert (row.status, row.attempts, row.result, row.lease_token) == ("Pending", 0, None, None)
    [again], _ = await tasks.claim("w2", 5, 30)  # only the root is runnable: the rest wait on it
    assert again.row.id == root


async def test_retry_leaves_a_dependent_that_failed_on_its_own(tasks: TaskStore) -> None:
    upstream = await _create(tasks, "upstream", retry_attempts=0)
    dependent = await _create(tasks, "dependent", retry_attempts=0, dependencies=[upstream])
    [leased], _ = await tasks.claim("w", 1, 30)
    await tasks.complete(upstream, "w", str(leased.row.lease_token), {"exit_code": 0})
    await _fail_for_good(tasks, dependent)  # it ran and failed by itself

    with pytest.raises(InvalidTransitionError, match="only a Failed or Cancelled"):
        await tasks.retry(upstream)  # Completed
    assert [c.task.row.id for c in await tasks.retry(dependent)] == [dependent]


async def test_retry_refuses_pending_running_and_workflow_tasks(tasks: TaskStore) -> None:
    pending = await _create(tasks, "pending")
    with pytest.raises(InvalidTransitionError):
        await tasks.retry(pending)
    await tasks.claim("w", 1, 30)
    with pytest.raises(InvalidTransitionError):
        await tasks.retry(pending)  # Running
    workflow = await _create(tasks, "plan", task_type="Workflow")
    await tasks.cancel(workflow)
    with pytest.raises(InvalidTransitionError, match="execution task"):
        await tasks.retry(workflow)
    assert (await tasks.get(workflow)).row.status == "Cancelled"


async def test_retry_through_the_sdk_and_the_cli_names_the_conflict(
    server: ServerProcess, api_key: str
) -> None:
    async with AsyncTaskQueueClient(base_url=server.url, api_key=api_key) as client:
        # A project of its own: the server is shared, and a claim must lease this task.
        project = await client.create_project(name="retry-test")
        task = await client.create_task(
            name="flaky", command="false", retry_attempts=0, project_id=project.id
        )
        cancelled = await client.cancel_task(task.id, "wrong input")
        assert cancelled.status is TaskStatus.CANCELLED
        again = await client.retry_task(task.id)
        assert (again.status, again.attempts, again.result) == (TaskStatus.PENDING, 0, None)
        with pytest.raises(ConflictError, match="only a Failed or Cancelled"):
            await client.retry_task(task.id)
        [leased] = await client.claim_tasks(
            "w1", max_tasks=1, lease_seconds=30, project_id=project.id
        )
        assert leased.id == task.id
        failed = await client.fail_task(
            task.id, "w1", TaskResult(exit_code=1), lease_token=leased.lease_token
        )
        assert failed.status is TaskStatus.FAILED
        assert (await client.retry_task(task.id)).status is TaskStatus.PENDING
        await client.delete_task(task.id)  # the server is shared: leave nothing runnable
        await client.delete_project(project.id)
        with pytest.raises(TaskNotFoundError):
            await client.retry_task(uuid.uuid4())
