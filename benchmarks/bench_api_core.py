"""api_core: @cached hits vs async-lru / cashews / aiocache, layered L2 hits vs raw Redis,
CommandBus dispatch overhead, and specification queries vs hand-written SQLAlchemy."""

from __future__ import annotations

import io
import json
import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from api_core import CommandBus, FieldSpecification, cached
from api_core.caching import CacheConfig, MemoryCache
from api_core.caching.layered import LayeredCache
from api_core.cqrs import logging_middleware
from api_core.storable import check_storable
from benchmarks.harness import Case, Harness
from platform_core.logging import configure_logging
from platform_core.redis import RedisSettings, create_redis
from platform_core.testing.services import find_redis


async def _cached_hits(h: Harness) -> None:
    from aiocache import cached as aiocache_cached
    from async_lru import alru_cache
    from cashews import cache as cashews_cache

    @cached(cache=MemoryCache())
    async def ours(x: int) -> int:
        return x

    @alru_cache(maxsize=1000)
    async def lru(x: int) -> int:
        return x

    cashews_cache.setup("mem://")

    @cashews_cache(ttl="1h")
    async def cashews_fn(x: int) -> int:
        return x

    @aiocache_cached(ttl=3600)
    async def aiocache_fn(x: int) -> int:
        return x

    def runner(fn: Any) -> Any:
        async def run(n: int) -> None:
            for _ in range(n):
                await fn(7)

        return run

    for fn in (ours, lru, cashews_fn, aiocache_fn):
        await fn(7)
    ours_case = Case("api_core @cached (MemoryCache)", runner(ours))
    await h.compare(
        "@cached memory hit vs async-lru",
        ours_case,
        Case("async_lru.alru_cache", runner(lru)),
        ops=20000,
        max_ratio=2.0,
    )
    await h.compare(
        "@cached memory hit vs cashews",
        ours_case,
        Case("cashews mem://", runner(cashews_fn)),
        ops=20000,
        max_ratio=1.0,
        goal="faster (ratio < 1)",
    )
    await h.compare(
        "@cached memory hit vs aiocache",
        ours_case,
        Case("aiocache SimpleMemoryCache", runner(aiocache_fn)),
        ops=20000,
        max_ratio=1.0,
        goal="faster (ratio < 1)",
    )


async def _layered_l2(h: Harness) -> None:
    service = find_redis()
    try:
        prefix = f"bench:{uuid.uuid4().hex[:8]}:"
        layered = LayeredCache(
            create_redis(RedisSettings(url=service.url)), CacheConfig(key_prefix=prefix)
        )
        raw = create_redis(RedisSettings(url=service.url))
        value = {"id": 42, "title": "widget", "tags": ["a", "b"], "price": 9.5}
        await layered.set("item", value)

        async def layered_l2(n: int) -> None:
            for _ in range(n):
                layered.l1.delete_nowait("item")  # force the L2 path
                await layered.get("item")

        async def raw_get(n: int) -> None:
            for _ in range(n):
                json.loads(await raw.get(prefix + "item"))

        await h.compare(
            "layered cache L2 (Redis) hit vs raw GET + json",
            Case("LayeredCache.get (L1 miss, L2 hit)", layered_l2),
            Case("redis.asyncio GET + json.loads", raw_get),
            ops=2000,
            max_ratio=1.3,
        )
        await layered.l2.clear()
        await layered.close()
        await raw.aclose()
    finally:
        service.stop()


@dataclass
class Ping:
    n: int


async def _command_bus(h: Harness) -> None:
    sink = io.StringIO()
    configure_logging("INFO", "json", stream=sink)

    async def handle(cmd: Ping) -> int:
        return cmd.n

    bus = CommandBus([logging_middleware])
    bus.register(Ping, handle)
    command = Ping(1)

    async def via_bus(n: int) -> None:
        for _ in range(n):
            await bus.dispatch(command)
        sink.seek(0)
        sink.truncate()

    async def direct(n: int) -> None:
        for _ in range(n):
            await handle(command)

    row = await h.compare(
        "CommandBus dispatch (logging middleware, JSON log line) vs direct call",
        Case("CommandBus.dispatch", via_bus),
        Case("direct await handler", direct),
        ops=3000,
        goal="report",
    )
    h.figure(
        "CommandBus dispatch with logging middleware",
        f"{row.candidate_s * 1e6:.1f} µs/command",
        "includes rendering one JSON log line per command",
    )


class _Base(DeclarativeBase):
    pass


class _Product(_Base):
    __tablename__ = "bench_products"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(50))
    price: Mapped[float]
    stock: Mapped[int]


async def _specification_sql(h: Harness) -> None:
    engine = sa.create_engine("sqlite://")
    _Base.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            sa.insert(_Product),
            [{"title": f"p{i}", "price": i % 100, "stock": i % 7} for i in range(500)],
        )
    spec = FieldSpecification("price", "lt", 50) & FieldSpecification("stock", "ge", 3)

    def with_spec(n: int) -> None:
        with engine.connect() as conn:
            for _ in range(n):
                conn.execute(sa.select(_Product.id).where(spec.to_sql_condition(_Product))).all()

    def with_fresh_spec(n: int) -> None:
        with engine.connect() as conn:
            for _ in range(n):
                fresh = FieldSpecification("price", "lt", 50) & FieldSpecification("stock", "ge", 3)
                conn.execute(sa.select(_Product.id).where(fresh.to_sql_condition(_Product))).all()

    def hand_written(n: int) -> None:
        with engine.connect() as conn:
            for _ in range(n):
                stmt = sa.select(_Product.id).where(_Product.price < 50, _Product.stock >= 3)
                conn.execute(stmt).all()

    await h.compare(
        "specification built + compiled + executed per query on SQLite vs hand-written",
        Case("new spec -> to_sql_condition -> execute", with_fresh_spec),
        Case("select().where(...)", hand_written),
        ops=300,
        rounds=15,
        max_ratio=1.2,
    )
    await h.compare(
        "reused specification (memoised condition) on SQLite vs hand-written",
        Case("spec.to_sql_condition (reused spec)", with_spec),
        Case("select().where(...)", hand_written),
        ops=300,
        rounds=15,
        max_ratio=1.2,
    )
    engine.dispose()


async def _storable(h: Harness) -> None:
    """check_storable on a typical task body against encoding that body as JSON once (work
    the server does anyway to store it): what refusing unstorable input before the write
    costs."""
    body = {
        "name": "nightly build",
        "command": "make -C /srv/app release && ./scripts/publish.sh --channel stable " * 4,
        "description": "Builds and publishes the release. " * 10,
        "acceptance_criteria": [f"criterion {i}: the artefact exists" for i in range(5)],
        "environment": {f"VAR_{i}": f"value-{i}-" * 4 for i in range(10)},
        "metadata": {
            "owner": {"team": "platform", "oncall": ["ann", "bo", "cy"]},
            "labels": {f"k{i}": f"v{i}" for i in range(20)},
            "history": [{"run": i, "ok": i % 3 != 0, "took": i * 1.5} for i in range(10)],
        },
    }

    def checked(n: int) -> None:
        for _ in range(n):
            check_storable(body, max_length=65_536)

    def encoded(n: int) -> None:
        for _ in range(n):
            json.dumps(body).encode()

    row = await h.compare(
        "check_storable (typical 2 KB task body) vs json.dumps + encode of the same body",
        Case("api_core.storable.check_storable", checked),
        Case("json.dumps(body).encode()", encoded),
        ops=2000,
        goal="report",
    )
    h.figure(
        "check_storable on a typical 2 KB task body",
        f"{row.candidate_s * 1e6:.1f} µs/body",
        "NUL, surrogate, depth and length checks of every string and key",
    )


async def main(h: Harness) -> None:
    """Run every api_core comparison."""
    await _storable(h)
    await _cached_hits(h)
    await _layered_l2(h)
    await _command_bus(h)
    await _specification_sql(h)
