"""Deleting a task or a project is a change like any other: an event, and signed webhooks."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from taskqueue import AsyncTaskQueueClient
from taskqueue.models import DeliveryStatus, WebhookDeliveryAttempt, WebhookEventType
from taskqueue_server.db.tasks import TaskStore

if TYPE_CHECKING:
    from conftest import Receiver, ServerProcess


async def test_deletes_reach_subscribed_webhooks(
    server: ServerProcess, api_key: str, receiver: Receiver
) -> None:
    async with AsyncTaskQueueClient(base_url=server.url, api_key=api_key) as client:
        hook = await client.create_webhook(
            receiver.url,
            ["task.deleted", "task.updated", "project.deleted"],
            secret=receiver.secret,
        )
        try:
            project = await client.create_project(name="short-lived")
            first = await client.create_task(name="first", command="true", project_id=project.id)
            waiting = await client.create_task(
                name="waiting", command="true", project_id=project.id, dependencies=[first.id]
            )
            await client.delete_task(first.id)
            await client.delete_task(waiting.id)
            await client.delete_project(project.id)
            mine = {str(first.id), str(waiting.id), str(project.id)}
            receiver.wait_for(
                lambda events: sum(e.data["id"] in mine for e in events) >= 4, timeout=30
            )
            page = await client.list_deliveries(hook.id)
            while any(d.status is DeliveryStatus.PENDING for d in page.deliveries):
                await asyncio.sleep(0.05)  # the attempt is recorded just after the POST
                page = await client.list_deliveries(hook.id)
        finally:
            await client.delete_webhook(hook.id)

    # Deliveries due together are sent concurrently, so they may arrive in any order.
    seen = {(e.type, e.data["id"]): e for e in receiver.events if e.data["id"] in mine}
    assert set(seen) == {
        (WebhookEventType.TASK_DELETED, str(first.id)),
        (WebhookEventType.TASK_UPDATED, str(waiting.id)),  # no longer waits for `first`
        (WebhookEventType.TASK_DELETED, str(waiting.id)),
        (WebhookEventType.PROJECT_DELETED, str(project.id)),
    }
    deleted_first = seen[(WebhookEventType.TASK_DELETED, str(first.id))].task()
    assert (deleted_first.name, deleted_first.project_id) == ("first", project.id)
    updated = seen[(WebhookEventType.TASK_UPDATED, str(waiting.id))].task()
    assert updated.dependencies == []
    assert seen[(WebhookEventType.TASK_DELETED, str(waiting.id))].task().dependencies == []
    assert seen[(WebhookEventType.PROJECT_DELETED, str(project.id))].project().name == (
        "short-lived"
    )
    # The delivery history is the SDK's typed model, every attempt included.
    delivered = [d for d in page.deliveries if d.payload["data"]["id"] in mine]
    assert len(delivered) == 4
    for delivery in delivered:
        assert delivery.status is DeliveryStatus.SUCCEEDED
        [attempt] = delivery.attempt_log
        assert isinstance(attempt, WebhookDeliveryAttempt)
        assert attempt.status_code == 200
        assert attempt.attempted_at >= delivery.created_at


async def test_store_delete_reports_the_task_and_its_dependents(tasks: TaskStore) -> None:
    [first] = await tasks.create_many([{"name": "first", "command": "true"}])
    [waiting] = await tasks.create_many(
        [{"name": "waiting", "command": "true", "dependencies": [first.row.id]}]
    )
    changes = await tasks.delete(first.row.id)
    assert [(c.event_type, c.task.row.id) for c in changes] == [
        ("task.deleted", first.row.id),
        ("task.updated", waiting.row.id),
    ]
    assert changes[0].task.to_wire()["name"] == "first"
    assert changes[1].task.dependencies == []
    assert (await tasks.get(waiting.row.id)).dependencies == []
    claimed, _ = await tasks.claim("w1", 10, 30)
    assert [t.row.id for t in claimed] == [waiting.row.id]  # nothing holds it back any more
