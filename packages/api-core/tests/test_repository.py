"""SQLAlchemyRepository and unit of work on real SQLite and PostgreSQL; protocols; Result."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

import pytest
import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from api_core import FieldSpecification
from api_core.protocols import (
    AsyncRepository,
    CacheProvider,
    Identifiable,
    SoftDeletable,
    Timestamped,
    UnitOfWork,
)
from api_core.repository import SQLAlchemyRepository, SQLAlchemyUnitOfWork
from api_core.result import Err, Ok, Result, UnwrapError


class Base(DeclarativeBase):
    pass


class Product(Base):
    __tablename__ = "products"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(100))
    price: Mapped[float]
    deleted_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))


class ProductIn(BaseModel):
    title: str
    price: float


class ProductPatch(BaseModel):
    title: str | None = None
    price: float | None = None


@pytest.fixture(params=["sqlite", "postgres"])
async def engine(request: pytest.FixtureRequest) -> AsyncIterator[AsyncEngine]:
    if request.param == "sqlite":
        url = "sqlite+aiosqlite://"
    else:
        url = request.getfixturevalue("postgres_url").replace(
            "postgresql://", "postgresql+asyncpg://", 1
        )
    eng = create_async_engine(url)
    async with eng.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    yield eng
    await eng.dispose()


async def test_crud_and_specifications(engine: AsyncEngine) -> None:
    repo: SQLAlchemyRepository[Product, ProductIn, ProductPatch] = SQLAlchemyRepository(
        Product, async_sessionmaker(engine, expire_on_commit=False)
    )
    assert isinstance(repo, AsyncRepository)
    created = [
        await repo.create(ProductIn(title=t, price=p)) for t, p in [("a", 1), ("b", 5), ("c", 9)]
    ]
    assert [p.id for p in created] == [1, 2, 3]
    got = await repo.get_by_id(2)
    assert got is not None
    assert got.title == "b"

    updated = await repo.update(2, ProductPatch(price=6))
    assert updated is not None
    assert (updated.title, updated.price) == ("b", 6)
    assert await repo.update(99, ProductPatch(price=1)) is None

    cheap = await repo.find(FieldSpecification("price", "lt", 7))
    assert [p.title for p in cheap] == ["a", "b"]
    assert await repo.count(FieldSpecification("title", "like", "%")) == 3
    page = await repo.list(skip=1, limit=1)
    assert [p.title for p in page] == ["b"]

    assert await repo.delete(1) is True
    assert await repo.delete(1) is False
    assert await repo.get_by_id(1) is None
    assert await repo.count() == 2
    async with engine.connect() as conn:  # soft delete keeps the row
        assert await conn.scalar(sa.select(sa.func.count()).select_from(Product)) == 3


async def test_unit_of_work_commits_or_rolls_back(engine: AsyncEngine) -> None:
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    async with SQLAlchemyUnitOfWork(sessions) as uow:
        assert isinstance(uow, UnitOfWork)
        repo: SQLAlchemyRepository[Product, ProductIn, ProductPatch] = SQLAlchemyRepository(
            Product, uow.session
        )
        await repo.create(ProductIn(title="kept", price=1))
        await uow.commit()
        await repo.create(ProductIn(title="dropped", price=2))

    async def create_then_fail() -> None:
        async with SQLAlchemyUnitOfWork(sessions) as uow:
            await SQLAlchemyRepository(Product, uow.session).create({"title": "x", "price": 3})
            raise RuntimeError("abort")

    with pytest.raises(RuntimeError, match="abort"):
        await create_then_fail()
    plain: SQLAlchemyRepository[Product, ProductIn, ProductPatch] = SQLAlchemyRepository(
        Product, sessions
    )
    assert [p.title for p in await plain.list()] == ["kept"]


class Entity:
    def __init__(self) -> None:
        self.id = 1
        self.created_at = datetime(2026, 1, 1)
        self.updated_at = None
        self.deleted_at = None
        self.is_deleted = False


def test_property_protocols_are_runtime_checkable() -> None:
    entity = Entity()
    assert isinstance(entity, Identifiable)
    assert isinstance(entity, Timestamped)
    assert isinstance(entity, SoftDeletable)
    assert not isinstance(object(), Identifiable)
    assert not isinstance(object(), CacheProvider)


def test_result() -> None:
    ok: Result[int, str] = Ok(2)
    err: Result[int, str] = Err("nope")
    assert ok.is_ok()
    assert not ok.is_err()
    assert ok.map(lambda v: v * 10).unwrap() == 20
    assert err.map(lambda v: v * 10).unwrap_or(0) == 0
    assert err.map_err(str.upper) == Err("NOPE")
    assert ok.map_err(str.upper) == Ok(2)
    with pytest.raises(UnwrapError, match="nope"):
        err.unwrap()
    cause = ValueError("boom")
    with pytest.raises(UnwrapError) as info:
        Err(cause).unwrap()
    assert info.value.__cause__ is cause
