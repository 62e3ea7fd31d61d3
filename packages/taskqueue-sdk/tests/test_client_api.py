"""The clients' API against the fake server: every route, paging, batches, waits, errors."""

from __future__ import annotations

import uuid

import pytest
from tq_fake_server import FakeServer

from taskqueue import (
    AsyncTaskQueueClient,
    AuthenticationError,
    AuthorizationError,
    ConflictError,
    PayloadTooLargeError,
    ProjectNotFoundError,
    TaskFilters,
    TaskNotFoundError,
    TaskPriority,
    TaskQueueClient,
    TaskResult,
    TaskStatus,
    TaskType,
    TimeoutError,
    ValidationError,
)
from taskqueue.errors import LeaseLostError, NotFoundError
from taskqueue.models import WebhookEventType

# Every async test runs on both transports (see conftest.pytest_generate_tests).
pytestmark = pytest.mark.usefixtures("transport")


async def test_task_lifecycle_over_the_async_client(server: FakeServer) -> None:
    async with AsyncTaskQueueClient() as client:
        task = await client.create_task(name="build", command="make", priority=TaskPriority.HIGH)
        assert task.status is TaskStatus.PENDING
        assert (await client.get_task(task.id)).priority is TaskPriority.HIGH
        updated = await client.update_task(task.id, description="nightly")
        assert updated.description == "nightly"
        assert updated.priority is TaskPriority.HIGH
        cancelled = await client.cancel_task(task.id, reason="not needed")
        assert cancelled.status is TaskStatus.CANCELLED
        with pytest.raises(ConflictError, match="already Cancelled"):
            await client.cancel_task(task.id)
        await client.delete_task(task.id)
        with pytest.raises(TaskNotFoundError):
            await client.get_task(task.id)


async def test_update_sends_only_the_fields_given(server: FakeServer) -> None:
    async with AsyncTaskQueueClient() as client:
        task = await client.create_task(name="a", command="true", description="keep")
        await client.update_task(task.id, {"priority": "Critical"})
        again = await client.get_task(task.id)
    assert again.description == "keep"
    assert again.priority is TaskPriority.CRITICAL


async def test_workflow_task_advances_through_phases(server: FakeServer) -> None:
    async with AsyncTaskQueueClient() as client:
        task = await client.create_task(name="feature", command="true", task_type=TaskType.WORKFLOW)
        assert task.status is TaskStatus.PLANNING
        task = await client.advance_phase(task.id, documentation="planned", artifacts=["plan.md"])
        assert task.status is TaskStatus.IMPLEMENTATION


async def test_iter_tasks_walks_every_page_with_filters(server: FakeServer) -> None:
    async with AsyncTaskQueueClient() as client:
        project = await client.create_project(name="p")
        for i in range(7):
            await client.create_task(name=f"t{i}", command="true", project_id=project.id)
        await client.create_task(name="other", command="true")
        names = [
            t.name async for t in client.iter_tasks(TaskFilters(project_id=project.id), page_size=3)
        ]
    assert names == [f"t{i}" for i in range(7)]
    pages = list(server.requests_to("GET", "/api/tasks"))
    assert len(pages) == 3


async def test_wait_for_completion_polls_until_terminal(server: FakeServer) -> None:
    seen: list[TaskStatus] = []
    async with AsyncTaskQueueClient() as client:
        task = await client.create_task(
            name="w", command="true", metadata={"complete_after_gets": 3}
        )
        done = await client.wait_for_completion(
            task.id, timeout=30, poll_interval=0.01, on_update=lambda t: seen.append(t.status)
        )
    assert done.status is TaskStatus.COMPLETED
    assert seen == [TaskStatus.PENDING, TaskStatus.PENDING, TaskStatus.COMPLETED]


async def test_wait_for_completion_times_out(server: FakeServer) -> None:
    async with AsyncTaskQueueClient() as client:
        task = await client.create_task(name="w", command="true")
        with pytest.raises(TimeoutError, match="still Pending"):
            await client.wait_for_completion(task.id, timeout=0.05, poll_interval=0.01)


async def test_batch_create_gives_one_result_per_item_and_retries_failures(
    server: FakeServer,
) -> None:
    items = [
        {"name": "ok-1", "command": "true"},
        {"name": "reject-me", "command": "true"},
        {"name": "ok-2", "command": "true"},
    ]
    async with AsyncTaskQueueClient() as client:
        result = await client.create_tasks(items)
        assert [r.ok for r in result.results] == [True, False, True]
        assert result.failed[0].error is not None
        assert result.failed[0].error.status == 409
        retry_items = result.pick_failed(items)
        assert retry_items == [items[1]]
        retried = await client.create_tasks([{**retry_items[0], "name": "fixed"}])
    assert retried.all_ok


async def test_batch_create_validates_everything_before_sending(server: FakeServer) -> None:
    items = [
        {"name": "fine", "command": "true"},
        {"name": "", "command": "true"},
        {"name": "x", "command": "true", "timeout": -1},
    ]
    async with AsyncTaskQueueClient() as client:
        with pytest.raises(ValidationError) as info:
            await client.create_tasks(items)
    locs = [tuple(e.loc) for e in info.value.errors]
    assert ("tasks", 1, "name") in locs
    assert ("tasks", 2, "timeout") in locs
    assert server.requests_to("POST", "/api/tasks/batch") == []


async def test_batch_update_reports_each_item(server: FakeServer) -> None:
    async with AsyncTaskQueueClient() as client:
        a = await client.create_task(name="a", command="true")
        missing = uuid.uuid4()
        result = await client.update_tasks([(a.id, {"priority": "Low"}), (missing, {"name": "n"})])
    assert [r.ok for r in result.results] == [True, False]
    assert result.results[1].error is not None
    assert result.results[1].error.status == 404


async def test_invalid_keyword_fields_fail_before_sending(server: FakeServer) -> None:
    async with AsyncTaskQueueClient() as client:
        with pytest.raises(ValidationError, match="command") as info:
            await client.create_task(name="a", command=" ")
    assert str(info.value).startswith("[invalid] ")
    assert server.state.requests == []


async def test_worker_calls(server: FakeServer) -> None:
    async with AsyncTaskQueueClient() as client:
        low = await client.create_task(name="low", command="true", priority="Low")
        high = await client.create_task(name="high", command="true", priority="Critical")
        claimed = await client.claim_tasks("w1", max_tasks=1)
        assert [t.id for t in claimed] == [high.id]
        token = claimed[0].lease_token
        beat = await client.heartbeat(high.id, "w1", lease_seconds=30, lease_token=token)
        assert not beat.cancel_requested
        done = await client.complete_task(
            high.id, "w1", TaskResult(exit_code=0, stdout="ok"), lease_token=token
        )
        assert done.status is TaskStatus.COMPLETED
        (second,) = await client.claim_tasks("w1")
        failed = await client.fail_task(
            second.id, "w1", TaskResult(exit_code=2), attempts=4, lease_token=second.lease_token
        )
        with pytest.raises(LeaseLostError):
            await client.heartbeat(second.id, "w1", lease_token="stale")
        assert failed.status is TaskStatus.FAILED
        assert second.id == low.id


async def test_projects_webhooks_and_stats(server: FakeServer) -> None:
    async with AsyncTaskQueueClient() as client:
        project = await client.create_project(name="p", tags=["x"])
        assert (await client.update_project(project.id, status="OnHold")).status == "OnHold"
        assert (await client.list_projects()).total == 1
        await client.delete_project(project.id)
        with pytest.raises(ProjectNotFoundError):
            await client.get_project(project.id)
        hook = await client.create_webhook("https://example.test/h", ["task.completed"])
        assert hook.secret is not None
        assert hook.secret.get_secret_value().startswith("whsec_")
        listed = await client.list_webhooks()
        assert [h.events for h in listed] == [[WebhookEventType.TASK_COMPLETED]]
        assert (await client.list_deliveries(hook.id)).total == 0
        await client.delete_webhook(hook.id)
        with pytest.raises(NotFoundError):
            await client.delete_webhook(hook.id)
        await client.create_task(name="a", command="true")
        assert (await client.get_stats()).tasks_by_status[TaskStatus.PENDING] == 1


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (401, AuthenticationError),
        (403, AuthorizationError),
        (413, PayloadTooLargeError),
        (422, ValidationError),
        (409, ConflictError),
    ],
)
def test_error_statuses_map_to_their_errors(
    server: FakeServer, status: int, error: type[Exception]
) -> None:
    server.fault("GET", "/api/stats", status=status)
    with TaskQueueClient() as client, pytest.raises(error) as info:
        client.get_stats()
    assert str(info.value).startswith(f"[{status}] GET /api/stats: injected {status}")


def test_api_key_is_sent_as_bearer(server: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    server.state.api_key = "k-123"
    with TaskQueueClient() as client, pytest.raises(AuthenticationError, match="TASKQUEUE_API_KEY"):
        client.get_stats()
    monkeypatch.setenv("TASKQUEUE_API_KEY", "k-123")
    with TaskQueueClient() as client:
        assert client.get_stats().tasks_total == 0


def test_sync_client_serves_a_thousand_sequential_calls(server: FakeServer) -> None:
    with TaskQueueClient() as client:
        task = client.create_task(name="a", command="true")
        for _ in range(1000):
            assert client.get_task(task.id).id == task.id
        assert [t.id for t in client.iter_tasks()] == [task.id]
    assert len(server.requests_to("GET", r"/api/tasks/.+")) == 1000


def test_sync_client_batch_and_wait(server: FakeServer) -> None:
    with TaskQueueClient() as client:
        result = client.create_tasks(
            [{"name": "a", "command": "true", "metadata": {"complete_after_gets": 2}}]
        )
        (task,) = result.succeeded
        assert client.wait_for_completion(task.id, poll_interval=0.01).is_terminal
        updated = client.update_tasks([(task.id, {"description": "d"})])
    assert updated.all_ok
