"""A SQLAlchemy async repository satisfying :class:`~api_core.protocols.AsyncRepository`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import DeclarativeBase

from api_core.errors import ApiCoreError
from api_core.specifications import Specification

__all__ = ["SQLAlchemyRepository", "SQLAlchemyUnitOfWork"]

ModelT = TypeVar("ModelT", bound=DeclarativeBase)
CreateT = TypeVar("CreateT", bound=BaseModel | Mapping[str, Any])
UpdateT = TypeVar("UpdateT", bound=BaseModel | Mapping[str, Any])


def _fields(data: BaseModel | Mapping[str, Any], *, partial: bool) -> dict[str, Any]:
    if isinstance(data, BaseModel):
        return data.model_dump(exclude_unset=partial)
    return dict(data)


class SQLAlchemyRepository(Generic[ModelT, CreateT, UpdateT]):
    """CRUD plus specification queries for one mapped model.

    When the model has a ``deleted_at`` column, :meth:`delete` marks the row instead of
    removing it and every read skips marked rows.

    Args:
        model: The declarative model class.
        sessions: An ``async_sessionmaker`` (each call runs in its own committed transaction)
            or an ``AsyncSession`` owned by a :class:`SQLAlchemyUnitOfWork` (calls only flush;
            the unit of work commits).

    Example:
        >>> repo = SQLAlchemyRepository(Product, async_sessionmaker(engine))  # doctest: +SKIP
        >>> cheap = await repo.find(FieldSpecification("price", "lt", 5))  # doctest: +SKIP
    """

    def __init__(
        self, model: type[ModelT], sessions: async_sessionmaker[AsyncSession] | AsyncSession
    ) -> None:
        self.model = model
        self._sessions = sessions
        table = model.__table__
        self._pk = next(iter(table.primary_key.columns))  # type: ignore[attr-defined]
        self._soft = "deleted_at" in table.c

    @asynccontextmanager
    async def _session(self) -> AsyncIterator[AsyncSession]:
        if isinstance(self._sessions, AsyncSession):
            yield self._sessions
            await self._sessions.flush()
            return
        async with self._sessions() as session, session.begin():
            yield session

    def _live(self, stmt: sa.Select[Any]) -> sa.Select[Any]:
        if self._soft:
            stmt = stmt.where(self.model.__table__.c.deleted_at.is_(None))
        return stmt

    def _by_id(self, entity_id: Any) -> sa.Select[tuple[ModelT]]:
        return self._live(sa.select(self.model).where(self._pk == entity_id))

    async def get_by_id(self, entity_id: Any) -> ModelT | None:
        """Return the entity with primary key ``entity_id``, or ``None``."""
        async with self._session() as session:
            found: ModelT | None = await session.scalar(self._by_id(entity_id))
            return found

    async def create(self, data: CreateT) -> ModelT:
        """Insert an entity built from ``data`` (a pydantic model or mapping) and return it."""
        try:
            entity = self.model(**_fields(data, partial=False))
        except TypeError as exc:
            raise ApiCoreError(f"cannot build {self.model.__name__} from {data!r}: {exc}") from exc
        async with self._session() as session:
            session.add(entity)
            await session.flush()
            await session.refresh(entity)
        return entity

    async def update(self, entity_id: Any, data: UpdateT) -> ModelT | None:
        """Apply the fields set in ``data``; return the entity or ``None`` if absent."""
        async with self._session() as session:
            entity: ModelT | None = await session.scalar(self._by_id(entity_id))
            if entity is None:
                return None
            for key, value in _fields(data, partial=True).items():
                if key not in self.model.__table__.c:
                    raise ApiCoreError(f"{self.model.__name__} has no column {key!r} to update")
                setattr(entity, key, value)
            await session.flush()
            await session.refresh(entity)
        return entity

    async def delete(self, entity_id: Any) -> bool:
        """Delete (or soft-delete) the entity; return whether one was found."""
        async with self._session() as session:
            entity = await session.scalar(self._by_id(entity_id))
            if entity is None:
                return False
            if self._soft:
                entity.deleted_at = datetime.now(UTC)  # type: ignore[attr-defined]
            else:
                await session.delete(entity)
        return True

    async def list(
        self,
        *,
        skip: int = 0,
        limit: int = 100,
        spec: Specification | None = None,
        order_by: Any = None,
    ) -> Sequence[ModelT]:
        """Return up to ``limit`` entities after ``skip``, filtered by ``spec``, in primary key
        order unless ``order_by`` is given."""
        if skip < 0 or limit < 0:
            raise ApiCoreError(f"skip and limit must be >= 0, got skip={skip}, limit={limit}")
        stmt = self._live(sa.select(self.model))
        if spec is not None:
            stmt = stmt.where(spec.to_sql_condition(self.model))
        stmt = stmt.order_by(order_by if order_by is not None else self._pk)
        async with self._session() as session:
            return list((await session.scalars(stmt.offset(skip).limit(limit))).all())

    async def find(self, spec: Specification, *, limit: int = 1000) -> Sequence[ModelT]:
        """Entities satisfying ``spec`` (at most ``limit``)."""
        return await self.list(spec=spec, limit=limit)

    async def count(self, spec: Specification | None = None) -> int:
        """How many entities satisfy ``spec`` (all live ones when ``None``)."""
        stmt = self._live(sa.select(sa.func.count()).select_from(self.model))
        if spec is not None:
            stmt = stmt.where(spec.to_sql_condition(self.model))
        async with self._session() as session:
            return int(await session.scalar(stmt) or 0)


class SQLAlchemyUnitOfWork:
    """One transaction around several repository calls; satisfies ``UnitOfWork``.

    Example:
        >>> async with SQLAlchemyUnitOfWork(sessions) as uow:  # doctest: +SKIP
        ...     repo = SQLAlchemyRepository(Product, uow.session)
        ...     await repo.create({"title": "a"})
        ...     await uow.commit()
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._session: AsyncSession | None = None

    @property
    def session(self) -> AsyncSession:
        """The session of the open unit of work."""
        if self._session is None:
            raise ApiCoreError("the unit of work is not open; use 'async with uow:'")
        return self._session

    async def __aenter__(self) -> Self:
        self._session = self._sessions()
        await self._session.begin()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        session, self._session = self.session, None
        try:
            if session.in_transaction():
                await session.rollback()
        finally:
            await session.close()

    async def commit(self) -> None:
        """Commit the transaction; later calls start a new one."""
        await self.session.commit()

    async def rollback(self) -> None:
        """Discard everything since the last commit."""
        await self.session.rollback()
