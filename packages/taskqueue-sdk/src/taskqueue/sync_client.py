# Generated from taskqueue/async_client.py by scripts/unasync_sdk.py: do not edit.
# Change the async source, then run `python scripts/unasync_sdk.py` (the test
# test_generated_sync_client_is_current fails while this file is stale).
"""The sync client: the task calls, on top of the worker, project and webhook calls."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from taskqueue import _calls, errors
from taskqueue._base import (
    Poll,
    TaskInput,
    UpdateInput,
    chunks,
    failed_chunk,
    failed_item,
    shift,
    validate_creates,
    validate_updates,
)
from taskqueue._calls import Id, coerce
from taskqueue._sync_extras import SyncClientExtras
from taskqueue._sync_pages import SyncTasks
from taskqueue.models import (
    AdvancePhaseRequest,
    BatchCreateRequest,
    BatchItemResult,
    BatchResult,
    Task,
    TaskCreateRequest,
    TaskFilters,
    TaskList,
    TaskUpdateRequest,
)
from taskqueue.retry import RetryConfig

__all__ = ["TaskQueueClient"]


class TaskQueueClient(SyncClientExtras):
    """The Task Queue API from blocking code. Use it as a context manager.

    ``client.tasks.list()`` pages through tasks (``for task in client.tasks.list()``).

    Every argument left out comes from the environment (``TASKQUEUE_BASE_URL``,
    ``TASKQUEUE_API_KEY``, ``TASKQUEUE_TIMEOUT``, ``TASKQUEUE_MAX_CONNECTIONS``). Every method
    takes ``retry=`` to override the client's :class:`RetryConfig` for that call.

    Args:
        base_url: The server's root URL.
        api_key: Sent as ``Authorization: Bearer <key>``.
        timeout: Seconds per request (connect, read, write and waiting for a connection).
        max_connections: Pool size; the default (1,000) serves 1,000 concurrent calls.
        retry: How failed requests are retried.
        headers: Extra headers for every request.
        http_client: Use this ``httpx.Client`` instead of creating one (it is not closed
            by this client; the caller owns it).
        transport: ``"httpx"`` (the default) or ``"aiohttp"`` (async only; needs the
            ``taskqueue-sdk[aiohttp]`` extra; cheaper per call at high concurrency). Left out,
            the sync client reads ``TASKQUEUE_TRANSPORT``; the sync one uses httpx.
    """

    @property
    def tasks(self) -> SyncTasks:
        """The task collection: ``tasks.list()`` pages through it."""
        return SyncTasks(self)

    # --- tasks -----------------------------------------------------------------------------

    def create_task(
        self,
        request: TaskCreateRequest | Mapping[str, Any] | None = None,
        *,
        idempotency_key: str | None = None,
        retry: RetryConfig | None = None,
        **fields: Any,
    ) -> Task:
        """Create a task from a request model, a mapping, or keyword fields.

        Args:
            request: The task to create (or pass its fields as keywords).
            idempotency_key: Reused on every retry; generated when omitted.
            retry: Overrides the client's retry config for this call.
            **fields: Fields of :class:`TaskCreateRequest`.

        Raises:
            ValidationError: before sending, naming each invalid field; or the server's 422.
        """
        req = coerce(TaskCreateRequest, request, **fields)
        return self._send(_calls.create_task(req, idempotency_key), retry)

    def create_tasks(
        self,
        items: Sequence[TaskInput],
        *,
        idempotency_key: str | None = None,
        retry: RetryConfig | None = None,
    ) -> BatchResult:
        """Create many tasks: validate all, then one result per item, success or error.

        Batches over the server's limit (1,000) are sent in several requests. Retry just the
        failures with ``create_tasks(result.pick_failed(items))``.

        Raises:
            ValidationError: when any item is invalid; nothing is sent.
        """
        valid = validate_creates(items)
        results: list[BatchItemResult] = []
        for offset, chunk in chunks(valid):
            key = f"{idempotency_key}-{offset}" if idempotency_key else None
            call = _calls.create_tasks(BatchCreateRequest(tasks=chunk), key)
            try:
                results.extend(shift(self._send(call, retry), offset))
            except errors.TaskQueueError as exc:
                results.extend(failed_chunk(offset, len(chunk), exc))
        return BatchResult(results=results)

    def get_task(self, task_id: Id, *, retry: RetryConfig | None = None) -> Task:
        """Return one task.

        Raises:
            TaskNotFoundError: when no task has this id.
        """
        return self._send(_calls.get_task(task_id), retry)

    def list_tasks(
        self,
        filters: TaskFilters | None = None,
        *,
        limit: int = 100,
        offset: int = 0,
        cursor: str | None = None,
        retry: RetryConfig | None = None,
    ) -> TaskList:
        """Return one page of tasks matching ``filters`` (iterate it for its tasks).

        Pass the previous page's ``next_cursor`` as ``cursor`` for the next page, or use
        :attr:`tasks` (``tasks.list()``), which does that for you. ``offset`` still works but
        costs the server more the deeper the page.
        """
        return self._send(_calls.list_tasks(filters, limit, offset, cursor), retry)

    def iter_tasks(
        self, filters: TaskFilters | None = None, *, page_size: int = 100
    ) -> Iterator[Task]:
        """Yield every task matching ``filters``, fetching pages as needed (by cursor)."""
        yield from self.tasks.list(filters, limit=page_size)

    def update_task(
        self,
        task_id: Id,
        update: TaskUpdateRequest | Mapping[str, Any] | None = None,
        *,
        retry: RetryConfig | None = None,
        **fields: Any,
    ) -> Task:
        """Change the fields given (only those are sent) and return the task."""
        req = coerce(TaskUpdateRequest, update, **fields)
        return self._send(_calls.update_task(task_id, req), retry)

    def update_tasks(
        self,
        updates: Sequence[UpdateInput],
        *,
        retry: RetryConfig | None = None,
    ) -> BatchResult:
        """Apply many ``(task_id, update)`` pairs: validate all, then one result per item.

        Raises:
            ValidationError: when any pair is invalid; nothing is sent.
        """
        valid = validate_updates(updates)
        results: list[BatchItemResult] = []
        for index, (task_id, req) in enumerate(valid):
            try:
                task = self._send(_calls.update_task(task_id, req), retry)
            except errors.TaskQueueError as exc:
                results.append(failed_item(index, exc))
            else:
                results.append(BatchItemResult(index=index, ok=True, task=task))
        return BatchResult(results=results)

    def cancel_task(
        self, task_id: Id, reason: str | None = None, *, retry: RetryConfig | None = None
    ) -> Task:
        """Cancel a task.

        Raises:
            ConflictError: when the task already finished.
        """
        return self._send(_calls.cancel_task(task_id, reason), retry)

    def retry_task(self, task_id: Id, *, retry: RetryConfig | None = None) -> Task:
        """Run a Failed or Cancelled task again: Pending at once, attempts from zero.

        Its dependents that failed without running because of it are queued again with it.

        Raises:
            ConflictError: when the task is not Failed or Cancelled.
        """
        return self._send(_calls.retry_task(task_id), retry)

    def advance_phase(
        self,
        task_id: Id,
        documentation: str | None = None,
        artifacts: Sequence[str] = (),
        *,
        retry: RetryConfig | None = None,
    ) -> Task:
        """Complete the current workflow phase and move to the next.

        Raises:
            ConflictError: when the task is not in a phase that can advance.
        """
        req = AdvancePhaseRequest(documentation=documentation, artifacts=list(artifacts))
        return self._send(_calls.advance_phase(task_id, req), retry)

    def delete_task(self, task_id: Id, *, retry: RetryConfig | None = None) -> None:
        """Delete a task."""
        self._send(_calls.delete_task(task_id), retry)

    def wait_for_completion(
        self,
        task_id: Id,
        timeout: float | None = None,
        *,
        poll_interval: float = 0.5,
        max_poll_interval: float = 5.0,
        on_update: Callable[[Task], None] | None = None,
    ) -> Task:
        """Poll until the task is Completed, Failed or Cancelled (or Finalized) and return it.

        Args:
            task_id: The task.
            timeout: Seconds to wait at most; None waits for ever.
            poll_interval: The first wait between polls; it grows 1.5x per poll.
            max_poll_interval: The longest wait between polls.
            on_update: Called with the task after every poll (progress displays).

        Raises:
            TimeoutError: when the deadline passes first.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        poll = Poll(poll_interval, max_poll_interval)
        while True:
            task = self.get_task(task_id)
            if on_update is not None:
                on_update(task)
            if task.is_terminal:
                return task
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise errors.TimeoutError(
                    f"task {task_id} still {task.status} after {timeout:g} s; "
                    "wait longer or check the workers"
                )
            time.sleep(poll.next(remaining))
