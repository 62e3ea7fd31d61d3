# Generated from taskqueue/_async_pages.py by scripts/unasync_sdk.py: do not edit.
# Change the async source, then run `python scripts/unasync_sdk.py` (the test
# test_generated_sync_client_is_current fails while this file is stale).
"""Pages of tasks for the sync client, and ``client.tasks.list()``'s auto-pagination."""

from __future__ import annotations

from collections.abc import Iterator

from taskqueue import _calls, errors
from taskqueue._sync_core import SyncClientCore
from taskqueue.models import Task, TaskFilters, TaskList
from taskqueue.retry import RetryConfig

__all__ = ["SyncTaskPage", "SyncTasks"]


class SyncTaskPage:
    """One page of tasks, with the way to the next.

    ``len(page)`` and ``page.tasks`` are this page's tasks; ``for task in page`` walks
    every task from this page to the last, fetching the following pages as it goes (by the
    server's cursor, so tasks created meanwhile are neither skipped nor repeated).
    """

    def __init__(
        self,
        client: SyncClientCore,
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
    def fetch(
        cls,
        client: SyncClientCore,
        filters: TaskFilters | None,
        limit: int,
        cursor: str | None,
        retry: RetryConfig | None,
    ) -> SyncTaskPage:
        """Fetch the page starting at ``cursor`` (the first page when None)."""
        call = _calls.list_tasks(filters, limit, 0, cursor)
        return cls(client, client._send(call, retry), filters, limit, retry)

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

    def next_page(self) -> SyncTaskPage:
        """Fetch the page after this one.

        Raises:
            TaskQueueError: when this is the last page (check :meth:`has_next_page`).
        """
        cursor = self.data.next_cursor
        if cursor is None:
            raise errors.TaskQueueError("this is the last page; check has_next_page() first")
        return self.fetch(self._client, self._filters, self._limit, cursor, self._retry)

    def iter_pages(self) -> Iterator[SyncTaskPage]:
        """Yield this page and every page after it."""
        page = self
        while True:
            yield page
            if not page.has_next_page():
                return
            page = page.next_page()

    def __iter__(self) -> Iterator[Task]:
        """Yield every task from this page to the last, fetching pages as needed."""
        for page in self.iter_pages():
            yield from page.tasks


class SyncTasks:
    """``client.tasks``: the task collection, read page by page.

    Args:
        client: The client whose connection the pages are fetched through.
    """

    def __init__(self, client: SyncClientCore) -> None:
        self._client = client

    def list(
        self,
        filters: TaskFilters | None = None,
        *,
        limit: int = 100,
        retry: RetryConfig | None = None,
    ) -> SyncTaskPage:
        """List tasks matching ``filters``, oldest first, ``limit`` per page.

        ``for task in client.tasks.list()`` walks them all;
        ``page = client.tasks.list()`` gives the first page (``page.has_next_page()``,
        ``page.next_page()``).
        """
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        first = (self._client, filters, limit, None, retry)
        return SyncTaskPage.fetch(*first)
