"""The server's moving parts, built once from the settings and shared by the routes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from api_core.ratelimit import InProcessRateLimiter, RateLimiter, RedisRateLimiter
from necrostack import Backend, Spine
from platform_core.logging import get_logger
from platform_core.redis import RedisSettings, create_redis
from taskqueue_server.db.apikeys import ApiKeyStore
from taskqueue_server.db.engine import create_engine, read_session_factory, session_factory
from taskqueue_server.db.idempotency import IdempotencyStore
from taskqueue_server.db.lease_clock import LeaseClock
from taskqueue_server.db.projects import ProjectStore
from taskqueue_server.db.schema import utcnow
from taskqueue_server.db.task_base import StoredTask
from taskqueue_server.db.tasks import Change, TaskStore
from taskqueue_server.db.webhooks import WebhookStore
from taskqueue_server.delivery import DeliverySender, WebhookFanout
from taskqueue_server.events import EventPublisher, create_backend
from taskqueue_server.settings import ServerSettings
from taskqueue_server.wakeup import Wakeup

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["Runtime"]

_log = get_logger(__name__)
_HANG_UP_CHECK = 1.0


@dataclass
class Runtime:
    """Engine, stores, event publisher, rate limiter and the background loops.

    Build it with :meth:`create`; :meth:`start_background` runs lease expiry and, in embedded
    mode or in the ``deliver`` process, webhook delivery; :meth:`close` stops everything.
    """

    settings: ServerSettings
    engine: AsyncEngine
    tasks: TaskStore
    projects: ProjectStore
    webhooks: WebhookStore
    api_keys: ApiKeyStore
    idempotency: IdempotencyStore
    limiter: RateLimiter
    auth_failures: RateLimiter
    backend: Backend
    publisher: EventPublisher
    wakeup: Wakeup
    lease_clock: LeaseClock
    redis: Redis | None = None
    closing: bool = False
    _background: list[asyncio.Task[object]] = field(default_factory=list)
    _spine: Spine | None = None
    _sender: DeliverySender | None = None

    @classmethod
    def create(cls, settings: ServerSettings, *, consumer: str | None = None) -> Runtime:
        """Build the runtime (nothing connects until first use).

        Args:
            settings: Server settings.
            consumer: This process's consumer name in the delivery group (Redis mode).
        """
        engine = create_engine(settings.database_url)
        if settings.telemetry.enabled:
            from api_core.telemetry import instrument_sqlalchemy

            instrument_sqlalchemy(engine)
        sessions = session_factory(engine)
        readers = read_session_factory(engine)
        dialect = engine.dialect.name
        redis: Redis | None = None
        limiter: RateLimiter
        auth_failures: RateLimiter
        if settings.redis_url is not None:
            redis = create_redis(RedisSettings.load(url=settings.redis_url.get_secret_value()))
            limiter = RedisRateLimiter(
                redis, settings.rate_limit_per_minute, settings.redis_key_prefix
            )
            auth_failures = RedisRateLimiter(
                redis, settings.auth_failures_per_minute, f"{settings.redis_key_prefix}authfail:"
            )
        else:
            limiter = InProcessRateLimiter(settings.rate_limit_per_minute)
            auth_failures = InProcessRateLimiter(settings.auth_failures_per_minute)
        backend = create_backend(
            settings, consumer=consumer or f"{socket.gethostname()}-{os.getpid()}"
        )
        return cls(
            settings=settings,
            engine=engine,
            tasks=TaskStore(sessions, dialect, readers),
            projects=ProjectStore(sessions, readers),
            webhooks=WebhookStore(sessions, dialect, readers),
            api_keys=ApiKeyStore(sessions, readers),
            idempotency=IdempotencyStore(
                sessions,
                settings.idempotency_ttl_seconds,
                readers=readers,
                lock_seconds=settings.idempotency_lock_seconds,
            ),
            limiter=limiter,
            auth_failures=auth_failures,
            backend=backend,
            publisher=EventPublisher(backend),
            wakeup=Wakeup(engine),
            lease_clock=LeaseClock(
                sessions, settings.lease_sweep_interval, lock_rows=dialect == "postgresql"
            ),
            redis=redis,
        )

    @property
    def embedded(self) -> bool:
        """True without Redis: the API process also delivers webhooks."""
        return self.settings.redis_url is None

    async def announce(self, changes: list[Change]) -> None:
        """Publish one event per changed task, and wake long-polling claims when a task
        entered Pending (a completion that unblocks dependents wakes them in the route)."""
        runnable = 0
        for change in changes:
            task = change.task
            wire = task.to_wire()
            if wire["status"] == "Pending":
                if wire.get("run_after"):
                    due = datetime.fromisoformat(wire["run_after"]) - utcnow()
                    self.wakeup.notify_at(due.total_seconds())
                else:
                    runnable += 1
            await self.publisher.publish(change.event_type, wire, task.row.tenant_id)
        if runnable:
            self.wakeup.notify(runnable)

    async def claim_waiting(
        self,
        store: TaskStore,
        worker_id: str,
        limit: int,
        lease_seconds: float,
        project_id: uuid.UUID | None,
        wait: float,
        gone: Callable[[], Awaitable[bool]] | None = None,
    ) -> list[StoredTask]:
        """Claim; when nothing is runnable, wait up to ``wait`` seconds for a wakeup (see
        :mod:`taskqueue_server.wakeup`) and claim again.

        Args:
            store: The task store bound to the claimer's tenant scope.
            worker_id: The claimer.
            limit: The most tasks to lease.
            lease_seconds: Lease length.
            project_id: Only this project's tasks, when set.
            wait: Seconds to wait for a runnable task (0: answer at once).
            gone: Tells whether the claimer hung up (checked before each retry, so no task
                is leased to a request nobody reads).
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        waited = False
        while True:
            woken = self.wakeup.waiter()
            try:
                leased, expired = await store.claim(
                    worker_id,
                    limit,
                    lease_seconds,
                    project_id=project_id,
                    expire=self.lease_clock.current(),
                )
                await self.announce(expired)
                if leased and waited and gone is not None and await gone():
                    await self._hand_back(store, worker_id, leased)  # nobody will read this answer
                    return []
                remaining = deadline - loop.time()
                if leased or remaining <= 0 or self.closing:
                    return leased
                waited = True
                if await self._wait(woken, min(remaining, self.wakeup.poll_interval), gone):
                    return []  # the claimer hung up while waiting
            finally:
                self.wakeup.discard(woken)

    async def _wait(
        self,
        woken: asyncio.Future[None],
        seconds: float,
        gone: Callable[[], Awaitable[bool]] | None,
    ) -> bool:
        """Wait for ``woken`` up to ``seconds``, checking every second whether the claimer
        hung up (a dead worker's poll must not hold up a server shutdown); True if it did."""
        loop = asyncio.get_running_loop()
        until = loop.time() + seconds
        while not woken.done() and not self.closing:
            step = min(until - loop.time(), _HANG_UP_CHECK)
            if step <= 0:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(woken), step)
            if gone is not None and await gone():
                return True
        return False

    async def _hand_back(self, store: TaskStore, worker_id: str, leased: list[StoredTask]) -> None:
        """Return tasks just leased to a claimer that hung up, not counting an attempt."""
        for stored in leased:
            token = stored.row.lease_token
            assert token is not None
            _, changes = await store.fail(
                stored.row.id, worker_id, token, {"error": "claimer hung up"}, requeue=True
            )
            await self.announce(changes)

    async def check_database(self) -> None:
        """Readiness: the database answers."""
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    def start_background(self, *, deliver: bool) -> None:
        """Start lease expiry, and (when ``deliver``) the event fan-out and webhook sender."""
        self._background.append(asyncio.create_task(self._expire_loop()))
        self.wakeup.start()
        if deliver:
            self._spine = Spine([WebhookFanout(self.webhooks)], self.backend, max_steps=2**62)
            self._sender = DeliverySender(self.webhooks, self.settings)
            self._background.append(asyncio.create_task(self._spine.run()))
            self._background.append(asyncio.create_task(self._sender.run()))

    async def tick_clock(self) -> None:
        """Tick the service clock (see :mod:`taskqueue_server.db.lease_clock`)."""
        gap = await self.lease_clock.tick()
        if gap:
            _log.warning(
                "no server ran for a while: running leases get the time back",
                outage_seconds=round(gap.total_seconds(), 1),
            )

    async def _expire_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.lease_sweep_interval)
            try:
                await self.tick_clock()
                await self.announce(await self.tasks.expire_leases())
                await self.idempotency.purge()
            except Exception:  # keep the loop alive; the next tick retries
                _log.exception("lease expiry sweep failed")

    async def close(self) -> None:
        """Stop the loops and release connections."""
        self.closing = True
        await self.wakeup.close()
        if self._spine is not None:
            self._spine.stop()
        if self._sender is not None:
            self._sender.stop()
        for task in self._background:
            task.cancel()
        for task in self._background:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._background.clear()
        if self._sender is not None:
            await self._sender.aclose()
        await self.backend.close()
        if self.redis is not None:
            await self.redis.aclose()
        await self.engine.dispose()
