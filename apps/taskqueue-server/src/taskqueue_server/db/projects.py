"""Project storage."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from taskqueue_server.db.schema import ProjectRow, TaskRow, utcnow
from taskqueue_server.db.tenancy import ScopedStore
from taskqueue_server.errors import ConflictError, ForbiddenError, NotFoundError

__all__ = ["ProjectStore", "project_to_wire"]

_FIELDS = ("name", "description", "status", "due_date", "tags")


def project_to_wire(row: ProjectRow) -> dict[str, Any]:
    """The project as a dict with the contract's field names."""
    return {
        "id": str(row.id),
        "name": row.name,
        "description": row.description,
        "status": row.status,
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
        "due_date": row.due_date.isoformat() if row.due_date else None,
        "tags": list(row.tags or []),
        "metadata": dict(row.meta or {}),
    }


class ProjectStore(ScopedStore):
    """Every database operation on projects.

    Args:
        sessions: The session factory bound to the server's engine.
        readers: Sessions for reads (see :func:`~taskqueue_server.db.engine.read_session_factory`);
            ``sessions`` when omitted.

    Bind it to a request's tenant with :meth:`scoped` before use.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        readers: async_sessionmaker[AsyncSession] | None = None,
    ) -> None:
        self._sessions = sessions
        self._readers = readers or sessions

    async def create(self, data: Mapping[str, Any]) -> ProjectRow:
        """Create a project from contract field names, in this store's tenant.

        Raises:
            ForbiddenError: the key is restricted to some projects (it could not see a new one).
        """
        if self.scope.projects is not None:
            raise ForbiddenError("an API key restricted to projects cannot create projects")
        now = utcnow()
        row = ProjectRow(
            id=uuid.uuid4(),
            tenant_id=self.scope.tenant,
            name=data["name"],
            description=data.get("description"),
            status=str(data.get("status") or "Planning"),
            due_date=data.get("due_date"),
            tags=list(data.get("tags") or []),
            meta=dict(data.get("metadata") or {}),
            created_at=now,
            updated_at=now,
        )
        async with self._sessions.begin() as session:
            session.add(row)
        return row

    async def get(self, project_id: uuid.UUID) -> ProjectRow:
        """Return one project.

        Raises:
            NotFoundError: unknown id.
        """
        async with self._readers() as session:
            row = await self._load(session, project_id)
        return row

    async def _load(self, session: AsyncSession, project_id: uuid.UUID) -> ProjectRow:
        scope = self.scope
        row = await session.get(ProjectRow, project_id)
        if row is None or not scope.owns(row.tenant_id, row.id):  # tenant filter
            raise NotFoundError("project", project_id)
        return row

    async def page(
        self, where: Sequence[ColumnElement[bool]], limit: int, offset: int
    ) -> tuple[list[ProjectRow], int]:
        """A page of projects, oldest first, and the total matching ``where``."""
        condition = and_(self._tenant_where(ProjectRow), *where)
        async with self._readers() as session:
            total = await session.scalar(
                select(func.count()).select_from(ProjectRow).where(condition)
            )
            rows = await session.scalars(
                select(ProjectRow)
                .where(condition)
                .order_by(ProjectRow.created_at, ProjectRow.id)
                .limit(limit)
                .offset(offset)
            )
            return list(rows.all()), int(total or 0)

    async def update(self, project_id: uuid.UUID, changes: Mapping[str, Any]) -> ProjectRow:
        """Apply the fields that were set.

        Raises:
            NotFoundError: unknown id.
        """
        async with self._sessions.begin() as session:
            row = await self._load(session, project_id)
            for name in _FIELDS:
                if name in changes and (changes[name] is not None or name == "due_date"):
                    setattr(row, name, changes[name])
            if changes.get("metadata") is not None:
                row.meta = dict(changes["metadata"])
            row.updated_at = utcnow()
            return row

    async def delete(self, project_id: uuid.UUID) -> ProjectRow:
        """Delete a project that has no tasks.

        Returns:
            The project as it was.

        Raises:
            NotFoundError: unknown id.
            ConflictError: tasks still belong to it.
        """
        async with self._sessions.begin() as session:
            row = await self._load(session, project_id)
            if await session.scalar(select(exists().where(TaskRow.project_id == project_id))):
                raise ConflictError(
                    f"project {project_id} still has tasks; delete them or move them to "
                    "another project first"
                )
            await session.delete(row)
        return row
