"""Pages: a page iterates its tasks; ``client.tasks.list()`` walks every page by cursor."""

from __future__ import annotations

import sys
import uuid
from datetime import UTC, datetime

import pytest
from tq_fake_server import FakeServer

from taskqueue import AsyncTaskQueueClient, TaskFilters, TaskList, TaskQueueClient, TaskQueueError
from taskqueue.models import Task, TaskStatus

pytestmark = pytest.mark.usefixtures("transport")


def _task(name: str) -> Task:
    now = datetime.now(UTC)
    fields = {"name": name, "command": "true", "status": "Pending", "priority": "Normal"}
    return Task.model_validate(
        {"id": str(uuid.uuid4()), "created_at": now, "updated_at": now, **fields}
    )


def test_a_page_iterates_over_its_tasks_and_has_a_length() -> None:
    tasks = [_task("a"), _task("b")]
    page = TaskList(tasks=tasks, total=5, limit=2, offset=0)
    assert list(page) == tasks
    assert [t.name for t in page] == ["a", "b"]
    assert len(page) == 2
    assert page[1].name == "b"
    assert page.has_more
    assert not TaskList(tasks=tasks, total=2, limit=2).has_more
    assert TaskList(tasks=tasks, limit=2, next_cursor="c").has_more
    assert not TaskList(tasks=[], limit=2).has_more


async def _seed(client: AsyncTaskQueueClient, count: int) -> list[str]:
    return [(await client.create_task(name=f"t{i}", command="true")).name for i in range(count)]


async def test_async_for_walks_every_page(server: FakeServer, transport: str) -> None:
    async with AsyncTaskQueueClient() as client:
        assert client.transport == transport
        names = await _seed(client, 7)
        walked = [task.name async for task in client.tasks.list(limit=3)]
        assert walked == names
        gets = [r for r in server.state.requests if r.method == "GET"]
        assert len(gets) == 3  # 3 + 3 + 1


async def test_explicit_pages_async(server: FakeServer) -> None:
    async with AsyncTaskQueueClient() as client:
        names = await _seed(client, 5)
        page = await client.tasks.list(limit=2)
        assert len(page) == 2
        seen = [t.name for t in page.tasks]
        while page.has_next_page():
            page = await page.next_page()
            seen += [t.name for t in page.tasks]
        assert seen == names
        assert len(page) == 1
        with pytest.raises(TaskQueueError, match="last page"):
            await page.next_page()
        sizes = [len(p) async for p in (await client.tasks.list(limit=2)).iter_pages()]
        assert sizes == [2, 2, 1]


async def test_list_tasks_page_iterates_tasks_and_follows_a_cursor(server: FakeServer) -> None:
    async with AsyncTaskQueueClient() as client:
        names = await _seed(client, 3)
        first = await client.list_tasks(limit=2)
        assert [t.name for t in first] == names[:2]
        assert first.next_cursor is not None
        rest = await client.list_tasks(limit=2, cursor=first.next_cursor)
        assert [t.name for t in rest] == names[2:]
        assert rest.next_cursor is None
        assert [t.name async for t in client.iter_tasks(page_size=1)] == names


def test_sync_pages(server: FakeServer) -> None:
    with TaskQueueClient() as client:
        names = [client.create_task(name=f"s{i}", command="true").name for i in range(5)]
        client.cancel_task(client.create_task(name="gone", command="true").id)
        pending = TaskFilters(status=TaskStatus.PENDING)
        assert [t.name for t in client.tasks.list(pending, limit=2)] == names
        page = client.tasks.list(pending, limit=2)
        assert (len(page), page.has_next_page()) == (2, True)
        last = page.next_page().next_page()
        assert ([t.name for t in last.tasks], last.has_next_page()) == (["s4"], False)
        assert [len(p) for p in page.iter_pages()] == [2, 2, 1]


def test_limit_below_one_is_refused_before_sending(server: FakeServer) -> None:
    with TaskQueueClient() as client, pytest.raises(ValueError, match="limit must be at least 1"):
        client.tasks.list(limit=0)


async def test_aiohttp_transport_without_aiohttp_names_the_extra(
    server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "aiohttp", None)  # import aiohttp now raises ImportError
    with pytest.raises(ImportError, match=r"taskqueue-sdk\[aiohttp\]"):
        AsyncTaskQueueClient(transport="aiohttp")


def test_sync_client_refuses_aiohttp_and_unknown_transports(server: FakeServer) -> None:
    with pytest.raises(ValueError, match="async-only"):
        TaskQueueClient(transport="aiohttp")
    with pytest.raises(ValueError, match="one of httpx, aiohttp; got 'curl'"):
        TaskQueueClient(transport="curl")


def test_project_pages_iterate_over_their_projects(server: FakeServer) -> None:
    with TaskQueueClient() as client:
        made = [client.create_project(name=f"p{i}").name for i in range(3)]
        page = client.list_projects(limit=2)
        assert [p.name for p in page] == made[:2]
        assert (len(page), page[0].name) == (2, "p0")
