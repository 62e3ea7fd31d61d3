"""The cache of active subscriptions behind the webhook fan-out (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from taskqueue_server.db.engine import session_factory
from taskqueue_server.db.tenancy import TenantScope
from taskqueue_server.db.webhooks import WebhookStore


async def test_a_read_overlapping_a_new_subscription_does_not_hide_it(
    engine: AsyncEngine,
) -> None:
    """A subscriptions read that began before a webhook was created, and ended after, must
    not keep its old answer in the cache: the next event would miss the new webhook."""
    sessions = session_factory(engine)
    read_done, release = asyncio.Event(), asyncio.Event()

    @contextlib.asynccontextmanager
    async def held_reader() -> AsyncIterator[AsyncSession]:
        async with sessions() as session:
            yield session  # the SELECT runs here, before the webhook exists
        read_done.set()
        await release.wait()  # ... and the read ends only after the webhook is created

    store = WebhookStore(sessions, engine.dialect.name, readers=held_reader)  # type: ignore[arg-type]
    tenant = store.scoped(TenantScope("default"))
    stale_read = asyncio.create_task(tenant.subscribers("task.created", "default"))
    await read_done.wait()
    hook = await tenant.create("http://127.0.0.1:9/h", "s" * 32, ["task.created"], None)
    release.set()
    assert await stale_read == []  # it read before the webhook was there
    assert await tenant.subscribers("task.created", "default") == [hook.id]
