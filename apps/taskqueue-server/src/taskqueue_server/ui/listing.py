"""The tasks list's filters and keyset pages (the cursors of ``GET /api/tasks``)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import ColumnElement, func, or_

from taskqueue.models import TaskPriority, TaskStatus
from taskqueue_server.db.cursor import decode_cursor, encode_cursor, filters_fingerprint
from taskqueue_server.db.schema import TaskRow
from taskqueue_server.db.tasks import StoredTask, TaskStore
from taskqueue_server.errors import InvalidCursorError, InvalidInputError

__all__ = ["COUNT_CAP", "PAGE_SIZE", "Filters", "Page", "load_page"]

PAGE_SIZE = 50
"""Tasks per page."""
MAX_TEXT = 200
"""Longest text filter accepted."""
COUNT_CAP = 10_000
"""The list counts matching tasks up to this many and shows more as "10,000+": an exact
count of a huge table would cost page 1 far more than the page itself."""


@dataclass(frozen=True)
class Filters:
    """What the list is narrowed to; unset fields do not filter."""

    status: str | None = None
    project: uuid.UUID | None = None
    priority: str | None = None
    text: str | None = None

    @classmethod
    def parse(cls, params: Any) -> Filters:
        """Read ``status``, ``project``, ``priority`` and ``q`` from query parameters.

        Raises:
            InvalidInputError: a value is not one the list accepts (naming the parameter).
        """
        status = params.get("status") or None
        if status is not None and status not in TaskStatus.__members__.values():
            raise InvalidInputError("status", f"must be one of {', '.join(TaskStatus)}")
        priority = params.get("priority") or None
        if priority is not None and priority not in TaskPriority.__members__.values():
            raise InvalidInputError("priority", f"must be one of {', '.join(TaskPriority)}")
        project = None
        if params.get("project"):
            try:
                project = uuid.UUID(params["project"])
            except ValueError:
                raise InvalidInputError("project", "is not a project id") from None
        text = (params.get("q") or "").strip() or None
        if text is not None and (
            len(text) > MAX_TEXT or any(ord(c) < 32 or 0xD800 <= ord(c) < 0xE000 for c in text)
        ):
            raise InvalidInputError("q", f"must be at most {MAX_TEXT} printable characters")
        return cls(status, project, priority, text)

    def where(self) -> list[ColumnElement[bool]]:
        """The SQL conditions (the store adds the tenant's)."""
        conditions: list[ColumnElement[bool]] = []
        if self.status is not None:
            conditions.append(TaskRow.status == self.status)
        if self.project is not None:
            conditions.append(TaskRow.project_id == self.project)
        if self.priority is not None:
            conditions.append(TaskRow.priority == self.priority)
        if self.text is not None:
            needle = self.text.lower()
            conditions.append(
                or_(
                    func.lower(TaskRow.name).contains(needle, autoescape=True),
                    func.lower(TaskRow.command).contains(needle, autoescape=True),
                )
            )
        return conditions

    def fingerprint(self) -> bytes:
        """What a cursor of this list is bound to (the API's keys, plus the text)."""
        return filters_fingerprint(
            {
                "status": self.status,
                "project_id": self.project,
                "priority": self.priority,
                "task_type": None,
                "created_after": None,
                "created_before": None,
                "q": self.text,
            }
        )

    def query(self, **extra: str | None) -> str:
        """The filters (and ``extra``) as a query string, unset ones left out."""
        values = {
            "status": self.status,
            "project": str(self.project) if self.project else None,
            "priority": self.priority,
            "q": self.text,
            **extra,
        }
        return urlencode({k: v for k, v in values.items() if v})

    @property
    def active(self) -> bool:
        """Whether any filter is set."""
        return any((self.status, self.project, self.priority, self.text))


@dataclass(frozen=True)
class Page:
    """One page of the list."""

    tasks: list[StoredTask]
    total: int | None
    next_cursor: str | None
    cursor: str | None

    @property
    def total_label(self) -> str | None:
        """The count as shown: ``"1 task"``, ``"1,234 tasks"``, ``"10,000+ tasks"``; None
        on pages after the first (which are not counted)."""
        if self.total is None:
            return None
        if self.total > COUNT_CAP:
            return f"{COUNT_CAP:,}+ tasks"
        return f"{self.total:,} task{'' if self.total == 1 else 's'}"


async def load_page(
    tasks: TaskStore, filters: Filters, cursor: str | None, limit: int = PAGE_SIZE
) -> Page:
    """The page after ``cursor`` (the first without), through the scoped store.

    Raises:
        InvalidCursorError: the cursor is damaged or was issued for other filters.
    """
    if cursor is not None and len(cursor) > 200:
        raise InvalidCursorError("is too long to be a cursor this server issued")
    fingerprint = filters.fingerprint()
    after = decode_cursor(cursor, fingerprint) if cursor else None
    rows, total, more = await tasks.page(filters.where(), limit, 0, after, count_cap=COUNT_CAP)
    next_cursor = None
    if more and rows:
        last = rows[-1].row
        next_cursor = encode_cursor(last.created_at, last.id, fingerprint)
    return Page(rows, total, next_cursor, cursor)
