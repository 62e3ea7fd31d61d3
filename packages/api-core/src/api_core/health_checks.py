"""Ready-made readiness checks for the dependencies services usually have."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["database_check", "redis_check"]


def database_check(engine: AsyncEngine) -> Callable[[], Awaitable[None]]:
    """A check that runs ``SELECT 1`` on ``engine``.

    Example:
        >>> registry.add("database", database_check(engine))  # doctest: +SKIP
    """

    async def check() -> None:
        async with engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))

    return check


def redis_check(client: Any) -> Callable[[], Awaitable[None]]:
    """A check that pings a ``redis.asyncio.Redis`` client.

    Example:
        >>> registry.add("redis", redis_check(create_redis()), required=False)  # doctest: +SKIP
    """
    from platform_core.redis import ping

    async def check() -> None:
        await ping(client)

    return check
