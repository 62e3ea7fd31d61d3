"""Keyset pages of ``GET /api/tasks`` through the real server on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import httpx
import pytest

from taskqueue import AsyncTaskQueueClient, TaskQueueClient, ValidationError
from taskqueue.models import TaskFilters, TaskStatus

if TYPE_CHECKING:
    from conftest import ServerProcess

Started = tuple["ServerProcess", str]


@pytest.fixture
async def started(
    database_url: str,
    make_server: Callable[..., ServerProcess],
    key_for: Callable[[ServerProcess], Awaitable[str]],
) -> Started:
    server = make_server(database_url)
    return server, await key_for(server)


async def test_every_page_by_cursor_async_and_sync(started: Started) -> None:
    server, key = started
    async with AsyncTaskQueueClient(server.url, key, transport="aiohttp") as client:
        project = await client.create_project(name="paged")
        # One batch: every task has the same created_at, so only the id orders them.
        batch = [{"name": f"t{i:02}", "command": "true", "project_id": str(project.id)}
                 for i in range(23)]  # fmt: skip
        created = [r.task for r in (await client.create_tasks(batch)).results]
        expected = sorted(str(t.id) for t in created if t is not None)
        await client.create_task(name="elsewhere", command="true")
        mine = TaskFilters(project_id=project.id)
        walked = [str(t.id) async for t in client.tasks.list(mine, limit=5)]
        assert walked == expected
        first = await client.tasks.list(mine, limit=5)
        assert (len(first), first.data.total, first.has_next_page()) == (5, 23, True)
        second = await first.next_page()
        assert second.data.total is None  # cursor pages are not counted
        assert [len(p) async for p in first.iter_pages()] == [5, 5, 5, 5, 3]
    with TaskQueueClient(server.url, key) as sync:
        assert [str(t.id) for t in sync.tasks.list(mine, limit=4)] == expected
        everything = [t.name for t in sync.tasks.list(limit=7)]
        assert len(everything) == 24
        assert len(set(everything)) == 24


async def test_rows_inserted_between_pages_are_neither_repeated_nor_skipping_older_ones(
    started: Started,
) -> None:
    server, key = started
    async with AsyncTaskQueueClient(server.url, key) as client:
        project = await client.create_project(name="moving")
        mine = TaskFilters(project_id=project.id, status=TaskStatus.PENDING)
        older = [
            (await client.create_task(name=f"old{i}", command="true", project_id=project.id)).name
            for i in range(9)
        ]
        page = await client.tasks.list(mine, limit=4)
        seen = [t.name for t in page.tasks]
        for i in range(3):  # new tasks while the reader is between pages
            await client.create_task(name=f"new{i}", command="true", project_id=project.id)
        while page.has_next_page():
            page = await page.next_page()
            seen += [t.name for t in page.tasks]
        assert seen == [*older, "new0", "new1", "new2"]
        # Offset paging over the same change would repeat or skip once rows sort before the
        # reader's position; with the cursor, a row deleted meanwhile is simply not seen.
        page = await client.tasks.list(mine, limit=4)
        doomed = (await page.next_page()).tasks[0]
        await client.delete_task(doomed.id)
        rest = [t.name async for t in page]
        assert doomed.name not in rest
        assert len(rest) == len(seen) - 1


async def test_a_bad_cursor_is_a_400_naming_the_parameter(started: Started) -> None:
    server, key = started
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=server.url, headers=headers) as http:
        for i in range(3):
            await http.post("/api/tasks", json={"name": f"c{i}", "command": "true"})
        first = (await http.get("/api/tasks", params={"limit": 1})).json()
        cursor = first["next_cursor"]
        assert isinstance(cursor, str)
        ok = await http.get("/api/tasks", params={"limit": 1, "cursor": cursor})
        assert ok.status_code == 200
        assert ok.json()["offset"] == 0
        altered = cursor[:-2] + ("AA" if not cursor.endswith("AA") else "BB")
        bad = {
            "garbage": {"cursor": "not a cursor!"},
            "altered": {"cursor": altered},
            "truncated": {"cursor": cursor[:10]},
            "other filters": {"cursor": cursor, "status": "Running"},
            "with offset": {"cursor": cursor, "offset": 2},
        }
        for why, params in bad.items():
            answer = await http.get("/api/tasks", params=params)
            assert answer.status_code == 400, why
            problem = answer.json()
            assert problem["detail"].startswith("cursor "), why
            assert problem["errors"][0]["loc"] == ["query", "cursor"], why
            assert "total" not in problem
        total = (await http.get("/api/tasks")).json()["total"]
    assert total == 3  # nothing was written by the refused requests
    async with AsyncTaskQueueClient(server.url, key) as client:
        with pytest.raises(ValidationError, match="cursor is not a cursor this server issued"):
            await client.list_tasks(cursor="x" * 12)
