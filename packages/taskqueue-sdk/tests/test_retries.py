"""Retries against the fault-injecting server: attempts, waits and idempotency keys."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from tq_fake_server import FakeServer

from taskqueue import (
    APIError,
    AsyncTaskQueueClient,
    ConflictError,
    ConnectionError,
    RateLimitError,
    RetryConfig,
    TaskNotFoundError,
    TaskQueueClient,
    TimeoutError,
)
from taskqueue.retry import parse_retry_after

# Every async test runs on both transports (see conftest.pytest_generate_tests).
pytestmark = pytest.mark.usefixtures("transport")


FAST = RetryConfig(max_retries=3, backoff_base=0.01, backoff_max=0.05)
TASKS = "/api/tasks"
ONE_TASK = r"/api/tasks/[0-9a-f-]+"


def _waits(caplog: pytest.LogCaptureFixture) -> list[float]:
    return [r.wait for r in caplog.records if r.getMessage().startswith("retrying ")]  # type: ignore[attr-defined]


async def test_retry_warning_is_a_sentence(
    server: FakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="taskqueue.client")
    server.fault("GET", TASKS, status=503, headers={"Retry-After": "0.5"}, times=1)
    async with AsyncTaskQueueClient(retry=FAST) as client:
        await client.list_tasks()
    [record] = [r for r in caplog.records if r.name == "taskqueue.client"]
    # Read as plain logging prints it (no structlog formatter): a sentence, not a dict.
    assert logging.Formatter("%(message)s").format(record) == (
        "retrying GET /api/tasks in 0.5 s after 503 (attempt 2 of 4)"
    )
    assert (record.method, record.path, record.attempt, record.wait) == (  # type: ignore[attr-defined]
        "GET",
        "/api/tasks",
        2,
        0.5,
    )


async def test_503_is_retried_until_success(server: FakeServer) -> None:
    server.fault("POST", TASKS, status=503, times=2)
    async with AsyncTaskQueueClient(retry=FAST) as client:
        task = await client.create_task(name="a", command="true")
    assert task.name == "a"
    assert len(server.requests_to("POST", TASKS)) == 3
    assert len(server.state.tasks) == 1


async def test_create_reuses_one_idempotency_key_across_attempts(server: FakeServer) -> None:
    server.fault("POST", TASKS, status=502, times=2)
    async with AsyncTaskQueueClient(retry=FAST) as client:
        await client.create_task(name="a", command="true")
        await client.create_task(name="b", command="true")
    keys = [r.headers["idempotency-key"] for r in server.requests_to("POST", TASKS)]
    assert len(keys) == 4
    assert len(set(keys[:3])) == 1
    assert keys[3] != keys[0]


async def test_dropped_connection_on_create_is_retried_and_creates_one_task(
    server: FakeServer,
) -> None:
    server.fault("POST", TASKS, kind="drop", times=1)
    async with AsyncTaskQueueClient(retry=FAST) as client:
        await client.create_task(name="a", command="true", idempotency_key="key-1")
    recorded = server.requests_to("POST", TASKS)
    assert [r.headers["idempotency-key"] for r in recorded] == ["key-1", "key-1"]
    assert len(server.state.tasks) == 1


async def test_post_without_idempotency_key_is_not_retried(server: FakeServer) -> None:
    async with AsyncTaskQueueClient(retry=FAST) as client:
        task = await client.create_task(name="a", command="true")
        server.fault("POST", ONE_TASK + "/cancel", status=503, times=5)
        with pytest.raises(APIError) as info:
            await client.cancel_task(task.id)
    assert info.value.status_code == 503
    assert len(server.requests_to("POST", ONE_TASK + "/cancel")) == 1


async def test_429_waits_as_long_as_retry_after_says(
    server: FakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="taskqueue.client")
    server.fault("GET", TASKS, status=429, headers={"Retry-After": "1"}, times=1)
    async with AsyncTaskQueueClient(retry=FAST) as client:
        page = await client.list_tasks()
    assert page.total == 0
    assert _waits(caplog) == [1.0]
    first, second = server.requests_to("GET", TASKS)
    assert second.at - first.at >= 0.9


async def test_retry_after_is_capped(server: FakeServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="taskqueue.client")
    server.fault("GET", TASKS, status=503, headers={"Retry-After": "3600"}, times=1)
    async with AsyncTaskQueueClient(retry=FAST.with_(retry_after_max=0.05)) as client:
        await client.list_tasks()
    assert _waits(caplog) == [0.05]


async def test_rate_limit_error_carries_retry_after_when_retries_run_out(
    server: FakeServer,
) -> None:
    server.fault("GET", TASKS, status=429, headers={"Retry-After": "0"}, times=10)
    async with AsyncTaskQueueClient(retry=FAST.with_(max_retries=2)) as client:
        with pytest.raises(RateLimitError) as info:
            await client.list_tasks()
    assert info.value.retry_after == 0.0
    assert str(info.value).startswith("[429] ")
    assert len(server.requests_to("GET", TASKS)) == 3


async def test_backoff_grows_between_attempts(
    server: FakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="taskqueue.client")
    server.fault("GET", TASKS, status=500, times=3)
    policy = RetryConfig(max_retries=3, backoff_base=0.01, jitter=False)
    async with AsyncTaskQueueClient(retry=policy) as client:
        await client.list_tasks()
    assert _waits(caplog) == [0.01, 0.02, 0.04]


async def test_404_is_never_retried_and_names_the_resource(server: FakeServer) -> None:
    async with AsyncTaskQueueClient(retry=FAST) as client:
        with pytest.raises(TaskNotFoundError) as info:
            await client.get_task(uuid.uuid4())
    assert info.value.status_code == 404
    assert len(server.requests_to("GET", ONE_TASK)) == 1


async def test_per_call_retry_overrides_the_client(server: FakeServer) -> None:
    server.fault("GET", TASKS, status=503, times=1)
    async with AsyncTaskQueueClient(retry=FAST) as client:
        with pytest.raises(APIError):
            await client.list_tasks(retry=RetryConfig.none())
    assert len(server.requests_to("GET", TASKS)) == 1


async def test_read_timeout_is_retried_for_gets_then_raised(server: FakeServer) -> None:
    server.fault("GET", TASKS, kind="delay", delay=0.5, times=2)
    async with AsyncTaskQueueClient(timeout=0.1, retry=FAST.with_(max_retries=1)) as client:
        with pytest.raises(TimeoutError) as info:
            await client.list_tasks()
    assert isinstance(info.value.__cause__, Exception)
    assert "timed out" in str(info.value)
    assert len(server.requests_to("GET", TASKS)) == 2


async def test_unreachable_server_raises_connection_error_after_retries() -> None:
    from platform_core.testing.services import free_port

    url = f"http://127.0.0.1:{free_port()}"
    async with AsyncTaskQueueClient(url, retry=FAST.with_(max_retries=1)) as client:
        with pytest.raises(ConnectionError) as info:
            await client.get_task(uuid.uuid4())
    assert "is the server up" in str(info.value)
    assert info.value.__cause__ is not None


def test_sync_client_retries_the_same_way(server: FakeServer) -> None:
    server.fault("POST", TASKS, status=503, times=1)
    server.fault("POST", TASKS, kind="drop", times=1)
    with TaskQueueClient(retry=FAST) as client:
        client.create_task(name="a", command="true")
    keys = {r.headers["idempotency-key"] for r in server.requests_to("POST", TASKS)}
    assert len(server.requests_to("POST", TASKS)) == 3
    assert len(keys) == 1
    assert len(server.state.tasks) == 1


def test_reusing_a_key_with_another_body_is_a_conflict(server: FakeServer) -> None:
    with TaskQueueClient(retry=FAST) as client:
        client.create_task(name="a", command="true", idempotency_key="same")
        with pytest.raises(ConflictError):
            client.create_task(name="b", command="true", idempotency_key="same")


async def test_409_while_the_first_request_runs_is_retried_until_its_answer(
    server: FakeServer,
) -> None:
    # The server answers 409 with Retry-After while the first request with a key is running.
    server.fault("POST", TASKS, status=409, headers={"Retry-After": "0"}, times=2)
    async with AsyncTaskQueueClient(retry=FAST) as client:
        task = await client.create_task(name="a", command="true", idempotency_key="busy")
    assert task.name == "a"
    recorded = server.requests_to("POST", TASKS)
    assert [r.headers["idempotency-key"] for r in recorded] == ["busy"] * 3


def test_409_without_retry_after_is_not_retried(server: FakeServer) -> None:
    server.fault("POST", TASKS, status=409, times=1)
    with TaskQueueClient(retry=FAST) as client, pytest.raises(ConflictError):
        client.create_task(name="a", command="true", idempotency_key="reused")
    server.fault("POST", ONE_TASK + "/cancel", status=409, headers={"Retry-After": "0"})
    with TaskQueueClient(retry=FAST) as client:
        task = client.create_task(name="b", command="true")
        with pytest.raises(ConflictError):  # no idempotency key: not the in-progress answer
            client.cancel_task(task.id)
    assert len(server.requests_to("POST", TASKS)) == 2
    assert len(server.requests_to("POST", ONE_TASK + "/cancel")) == 1


def test_retry_after_accepts_an_http_date() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_retry_after(format_datetime(now + timedelta(seconds=7), usegmt=True), now) == 7
    assert parse_retry_after(format_datetime(now - timedelta(seconds=7), usegmt=True), now) == 0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after("2.5") == 2.5


def test_retry_config_refuses_to_retry_404() -> None:
    with pytest.raises(ValueError, match="404 cannot be retried"):
        RetryConfig(statuses=frozenset({404, 503}))


def test_jittered_backoff_stays_between_half_and_full() -> None:
    policy = RetryConfig(backoff_base=1.0, backoff_max=8.0)
    for n, full in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (9, 8.0)]:
        wait = policy.backoff(n)
        assert full / 2 <= wait <= full
