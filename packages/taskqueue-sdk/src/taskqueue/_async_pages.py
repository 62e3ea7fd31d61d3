"""Pages of tasks for the async client, and ``client.tasks.list()``'s auto-pagination."""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator
from typing import Any

from taskqueue import _calls, errors
from taskqueue._async_core import AsyncClientCore
from taskqueue.models import Task, TaskFilters, TaskList
from taskqueue.retry import RetryConfig

# unasync: async-only
__all__ = ["AsyncTaskPage", "AsyncTaskPager", "AsyncTasks"]
# unasync: sync-only
# __all__ = ["AsyncTaskPage", "AsyncTasks"]
# unasync: end


class AsyncTaskPage:
    """One page of tasks, with the way to the next.

    ``len(page)`` and ``page.tasks`` are this page's tasks; ``async for task in page`` walks
    every task from this page to the last, fetching the following pages as it goes (by the
    server's cursor, so tasks created meanwhile are neither skipped nor repeated).
    """

    def __init__(
        self,
        client: AsyncClientCore,
        data: TaskList,
        filters: TaskFilters | None,
        limit: int,
        retry: RetryConfig | None,
    ) -> None:
        self._client = client
        self._filters = filters
        self._limit = limit
        self._retry = retry
        self.data = data
        """The page as the server sent it."""

    @classmethod
    async def fetch(
        cls,
        client: AsyncClientCore,
        filters: TaskFilters | None,
        limit: int,
        cursor: str | None,
        retry: RetryConfig | None,
    ) -> AsyncTaskPage:
        """Fetch the page starting at ``cursor`` (the first page when None)."""
        call = _calls.list_tasks(filters, limit, 0, cursor)
        return cls(client, await client._send(call, retry), filters, limit, retry)

    @property
    def tasks(self) -> list[Task]:
        """The tasks on this page."""
        return self.data.tasks

    def __len__(self) -> int:
        """The number of tasks on this page."""
        return len(self.data.tasks)

    def __repr__(self) -> str:
        more = "more follow" if self.has_next_page() else "last page"
        return f"<{type(self).__name__} of {len(self)} tasks, {more}>"

    def has_next_page(self) -> bool:
        """True when tasks follow this page."""
        return self.data.next_cursor is not None

    async def next_page(self) -> AsyncTaskPage:
        """Fetch the page after this one.

        Raises:
            TaskQueueError: when this is the last page (check :meth:`has_next_page`).
        """
        cursor = self.data.next_cursor
        if cursor is None:
            raise errors.TaskQueueError("this is the last page; check has_next_page() first")
        return await self.fetch(self._client, self._filters, self._limit, cursor, self._retry)

    async def iter_pages(self) -> AsyncIterator[AsyncTaskPage]:
        """Yield this page and every page after it."""
        page = self
        while True:
            yield page
            if not page.has_next_page():
                return
            page = await page.next_page()

    async def __aiter__(self) -> AsyncIterator[Task]:
        """Yield every task from this page to the last, fetching pages as needed."""
        async for page in self.iter_pages():
            for task in page.tasks:
                yield task


# unasync: async-only
class AsyncTaskPager:
    """What the async ``client.tasks.list()`` returns before anything is fetched.

    ``await`` it for the first :class:`AsyncTaskPage`, or ``async for`` over it for every task
    across all pages.
    """

    def __init__(
        self,
        client: AsyncClientCore,
        filters: TaskFilters | None,
        limit: int,
        cursor: str | None,
        retry: RetryConfig | None,
    ) -> None:
        self._first = (client, filters, limit, cursor, retry)

    def __await__(self) -> Generator[Any, None, AsyncTaskPage]:
        return AsyncTaskPage.fetch(*self._first).__await__()

    async def __aiter__(self) -> AsyncIterator[Task]:
        """Yield every matching task, oldest first, fetching pages as needed."""
        async for task in await self:
            yield task


# unasync: end
class AsyncTasks:
    """``client.tasks``: the task collection, read page by page.

    Args:
        client: The client whose connection the pages are fetched through.
    """

    def __init__(self, client: AsyncClientCore) -> None:
        self._client = client

    def list(
        self,
        filters: TaskFilters | None = None,
        *,
        limit: int = 100,
        retry: RetryConfig | None = None,
    ) -> AsyncTaskPager:
        """List tasks matching ``filters``, oldest first, ``limit`` per page.

        ``async for task in client.tasks.list()`` walks them all;
        ``page = await client.tasks.list()`` gives the first page (``page.has_next_page()``,
        ``await page.next_page()``).
        """
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        first = (self._client, filters, limit, None, retry)
        return AsyncTaskPager(*first)  # unasync: return AsyncTaskPage.fetch(*first)
