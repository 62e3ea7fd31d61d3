"""Construction and helpers shared by the async and the sync client."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import httpx
from pydantic import ValidationError as PydanticValidationError

from taskqueue import errors
from taskqueue._calls import Id, invalid
from taskqueue._http import USER_AGENT
from taskqueue.models import (
    BatchItemResult,
    BatchResult,
    FieldError,
    ProblemDetails,
    TaskCreateRequest,
    TaskUpdateRequest,
)
from taskqueue.models.common import BATCH_MAX_ITEMS
from taskqueue.retry import RetryConfig
from taskqueue.settings import ClientSettings

TaskInput = TaskCreateRequest | Mapping[str, Any]
UpdateInput = tuple[Id, TaskUpdateRequest | Mapping[str, Any]]


@dataclass(frozen=True)
class Options:
    """The resolved constructor arguments of a client."""

    base_url: str
    headers: dict[str, str]
    timeout: httpx.Timeout
    limits: httpx.Limits
    retry: RetryConfig
    transport: str = "httpx"


def resolve(
    base_url: str | None,
    api_key: str | None,
    timeout: float | None,
    max_connections: int | None,
    retry: RetryConfig | None,
    headers: Mapping[str, str] | None,
) -> Options:
    """Fill unset arguments from ``TASKQUEUE_*`` settings and build the httpx options."""
    settings = ClientSettings.load()
    key = api_key
    if key is None and settings.api_key is not None:
        key = settings.api_key.get_secret_value()
    all_headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
    if key:
        all_headers["Authorization"] = f"Bearer {key}"
    all_headers.update(headers or {})
    pool = max_connections if max_connections is not None else settings.max_connections
    if pool < 1:
        raise ValueError(f"max_connections must be at least 1, got {pool}")
    seconds = timeout if timeout is not None else settings.timeout
    return Options(
        base_url=(base_url or settings.base_url).rstrip("/"),
        headers=all_headers,
        # The pool wait gets the same budget as the request: under a burst of 1,000
        # concurrent calls requests queue for a connection rather than fail at once.
        timeout=httpx.Timeout(seconds),
        limits=httpx.Limits(max_connections=pool, max_keepalive_connections=pool),
        retry=retry or RetryConfig(),
        transport=settings.transport,
    )


def validate_creates(items: Sequence[TaskInput]) -> list[TaskCreateRequest]:
    """Validate every batch item before anything is sent.

    Raises:
        errors.ValidationError: listing every invalid item by index (``tasks.3.name``).
    """
    valid: list[TaskCreateRequest] = []
    problems: list[FieldError] = []
    for index, item in enumerate(items):
        try:
            valid.append(
                item
                if isinstance(item, TaskCreateRequest)
                else TaskCreateRequest.model_validate(item)
            )
        except PydanticValidationError as exc:
            problems.extend(invalid(exc, "task", ("tasks", index)).errors)
    if problems:
        listed = "; ".join(f"{'.'.join(map(str, p.loc))}: {p.msg}" for p in problems)
        raise errors.ValidationError(
            f"{len(problems)} invalid field(s) in the batch, nothing was sent: {listed}",
            errors=problems,
        )
    return valid


def validate_updates(updates: Sequence[UpdateInput]) -> list[tuple[str, TaskUpdateRequest]]:
    """Validate every (task id, update) pair before anything is sent.

    Raises:
        errors.ValidationError: listing every invalid item by index.
    """
    valid: list[tuple[str, TaskUpdateRequest]] = []
    problems: list[FieldError] = []
    for index, (task_id, update) in enumerate(updates):
        try:
            UUID(str(task_id))
        except ValueError:
            problems.append(FieldError(loc=["updates", index, "id"], msg="not a task id (UUID)"))
            continue
        try:
            req = (
                update
                if isinstance(update, TaskUpdateRequest)
                else TaskUpdateRequest.model_validate(update)
            )
        except PydanticValidationError as exc:
            problems.extend(invalid(exc, "update", ("updates", index)).errors)
            continue
        valid.append((str(task_id), req))
    if problems:
        listed = "; ".join(f"{'.'.join(map(str, p.loc))}: {p.msg}" for p in problems)
        raise errors.ValidationError(
            f"{len(problems)} invalid field(s) in the updates, nothing was sent: {listed}",
            errors=problems,
        )
    return valid


def chunks(items: list[TaskCreateRequest]) -> Iterator[tuple[int, list[TaskCreateRequest]]]:
    """Split a batch into requests of at most the server's limit, with each one's offset."""
    for start in range(0, len(items), BATCH_MAX_ITEMS):
        yield start, items[start : start + BATCH_MAX_ITEMS]


def shift(result: BatchResult, offset: int) -> list[BatchItemResult]:
    """Renumber a chunk's results to their positions in the whole batch."""
    return [r.model_copy(update={"index": r.index + offset}) for r in result.results]


def failed_item(index: int, exc: errors.TaskQueueError) -> BatchItemResult:
    """A batch result for an item whose request raised ``exc``."""
    problem = exc.problem or ProblemDetails(
        title=type(exc).__name__, status=exc.status_code or 599, detail=exc.message
    )
    return BatchItemResult(index=index, ok=False, error=problem)


def failed_chunk(offset: int, size: int, exc: errors.TaskQueueError) -> list[BatchItemResult]:
    """Results for every item of a chunk whose request failed as a whole."""
    return [failed_item(offset + i, exc) for i in range(size)]


class Poll:
    """The polling schedule of ``wait_for_completion``: the interval grows 1.5x to a cap."""

    def __init__(self, first: float, cap: float) -> None:
        if first <= 0 or cap <= 0:
            raise ValueError("poll intervals must be positive")
        self._next = first
        self._cap = cap

    def next(self, remaining: float | None) -> float:
        """The next sleep, never past the deadline."""
        wait = self._next
        self._next = min(self._cap, self._next * 1.5)
        return wait if remaining is None else max(0.0, min(wait, remaining))


def wait_timeout(task_id: Id, timeout: float, status: str) -> errors.TimeoutError:
    """The error for a wait that passed its deadline."""
    return errors.TimeoutError(
        f"task {task_id} still {status} after {timeout:g} s; wait longer or check the workers"
    )
