"""Wiring: builds the database, LLM provider, archive, job queue and service from settings."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from api_core.ratelimit import InProcessRateLimiter, RateLimiter
from draft_service.archive import MessageArchive
from draft_service.db import create_engine, session_factory
from draft_service.db.engine import open_pool
from draft_service.db.intake import warm_up
from draft_service.llm import LLMProvider, build_provider
from draft_service.queue import JobQueue, WaitingJobs, fail_given_up_jobs
from draft_service.relay import Relay
from draft_service.service import DraftService
from draft_service.settings import DraftSettings
from draft_service.store import Store
from necrostack import Backend, DeadLetterHook, Feed, InMemoryBackend, MemoryFeed, load_backend
from platform_core.errors import DependencyUnavailableError, PlatformError
from platform_core.logging import get_logger

__all__ = ["Runtime", "build_runtime", "preflight"]

_log = get_logger("draft_service.runtime")


@dataclass
class Runtime:
    """The running parts of the service; close it to release every connection."""

    settings: DraftSettings
    engine: AsyncEngine
    service: DraftService
    queue: JobQueue
    provider: LLMProvider
    archive: MessageArchive
    feed: Feed
    limiter: RateLimiter | None = None
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    job_engine: AsyncEngine | None = None
    """In-process jobs behind an API on PostgreSQL: their own pool (see :func:`build_runtime`)."""
    _relay: Relay | None = None

    async def check_llm(self) -> None:
        """Readiness (optional check: ``degraded`` when failing): the LLM endpoint answers
        ``GET /models`` and lists the configured model.

        Raises:
            DependencyUnavailableError: it does not, naming the setting to change.
        """
        list_models = getattr(self.provider, "list_models", None)
        if list_models is None:
            return  # the offline drafter needs no endpoint
        try:
            models: list[str] = await list_models()
        except PlatformError as exc:
            raise DependencyUnavailableError("llm", str(exc)) from exc
        model = self.settings.llm_model
        if model not in models:
            shown = ", ".join(models[:10]) or "none"
            raise DependencyUnavailableError(
                "llm",
                f"{self.settings.llm_base_url} does not list model {model!r} (it lists: "
                f"{shown}); check DRAFTS_LLM_MODEL",
            )

    async def check_database(self) -> None:
        """Readiness: the database answers ``SELECT 1``.

        Raises:
            DependencyUnavailableError: it does not.
        """
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except (OSError, SQLAlchemyError) as exc:
            raise DependencyUnavailableError("database", str(exc)) from exc

    async def close(self) -> None:
        """Stop the job queue and release the backend, LLM client, archive and database."""
        if self._relay is not None:
            await self._relay.stop()  # a round in progress ends first: its rows stay consistent
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.queue.close()
        await self.feed.close()
        await self.provider.aclose()
        await self.archive.close()
        await self.service.store.close()
        if self.job_engine is not None:
            await self.job_engine.dispose()
        await self.engine.dispose()


def _redis_backend(
    settings: DraftSettings,
    consumer: str,
    on_dead_letter: DeadLetterHook | None = None,
    **options: Any,
) -> Backend:
    from platform_core.redis import RedisSettings

    return load_backend(
        "redis",
        setting="DRAFTS_REDIS_URL",
        redis_settings=RedisSettings.load(url=settings.redis_url),
        stream=settings.stream,
        group="draft-workers",
        consumer=consumer,
        # One entry at a time per consumer: a job holds its consumer for an LLM call, so
        # prefetched entries would wait behind it while other workers sit idle.
        batch_size=1,
        claim_idle_ms=settings.job_claim_idle_ms,
        max_deliveries=settings.job_max_deliveries,
        on_dead_letter=on_dead_letter,
        **options,
    )


def _queue(settings: DraftSettings, consumer: str | None, store: Store) -> JobQueue:
    given_up = fail_given_up_jobs(store.give_up)
    if settings.redis_url is None:
        # Jobs wait as text (WaitingJobs) and become events as the spines make room.
        backend = InMemoryBackend(
            max_deliveries=settings.job_max_deliveries,
            on_dead_letter=given_up,
            maxsize=settings.worker_concurrency,
            full_timeout=3600,
        )
        concurrency = settings.worker_concurrency
        waiting = WaitingJobs(settings.max_waiting_jobs)
        return JobQueue(backend, concurrency=concurrency, waiting=waiting)
    name = consumer or f"{socket.gethostname()}-{os.getpid()}"
    # A request waits this long for Redis to take its job; then the relay takes over.
    handover = settings.queue_handover_timeout
    return JobQueue(
        _redis_backend(settings, f"{name}-producer", reconnect_timeout=handover),
        lambda i: _redis_backend(settings, f"{name}-{i}", given_up),
        concurrency=settings.worker_concurrency,
    )


def _archive(settings: DraftSettings) -> MessageArchive:
    from draft_service.activity_archive import ActivityArchive

    return ActivityArchive.from_environment()


def _feed_and_limiter(settings: DraftSettings) -> tuple[Feed, RateLimiter | None]:
    """The event feed and the per-user write limiter: in memory, or both on one Redis client
    (the feed owns it and closes it)."""
    per_minute = settings.rate_limit_per_minute
    if settings.redis_url is None:
        return MemoryFeed(), InProcessRateLimiter(per_minute) if per_minute else None
    from api_core.ratelimit import RedisRateLimiter
    from necrostack import RedisFeed
    from platform_core.redis import RedisSettings, create_redis

    redis_settings = RedisSettings.load(url=settings.redis_url)
    client = create_redis(redis_settings)
    prefix = f"{redis_settings.key_prefix}{settings.stream}:"
    limiter = RedisRateLimiter(client, per_minute, prefix) if per_minute else None
    return RedisFeed(client, prefix + "events:"), limiter


async def _requeue_unfinished(store: Store, queue: JobQueue) -> None:
    """The memory queue dies with its process: jobs it held are queued again at start.

    A job another process is running at the same moment (several ``serve`` processes on one
    database) then runs twice, which is safe: a job that finished is skipped and a result is
    saved once.
    """
    jobs = await store.unfinished_jobs()
    for job_id in jobs:
        await queue.enqueue(job_id)
    if jobs:
        _log.warning("jobs_requeued", count=len(jobs), detail="left unfinished by a previous run")


async def _job_engine(settings: DraftSettings, engine: AsyncEngine) -> AsyncEngine | None:
    """PostgreSQL: a pool of the in-process jobs' own, one connection per job at once.

    Sharing the requests' pool, a job's statements would wait behind a burst of requests for
    a connection, and the LLM, the slowest resource, would sit idle meanwhile.
    """
    if engine.dialect.name != "postgresql":
        return None
    size = settings.worker_concurrency
    job_engine = create_engine(settings.database_url, pool_size=size, max_overflow=2)
    if settings.telemetry.enabled:
        from api_core.telemetry import instrument_sqlalchemy

        instrument_sqlalchemy(job_engine)
    await open_pool(job_engine, size)
    return job_engine


async def preflight(settings: DraftSettings) -> None:
    """Check what a server needs before it starts serving, so a start fails with one line.

    Checks the LLM settings, the archive's settings (activity-store's, e.g.
    ``ACTIVITY_STORE_BACKEND``: the archive is built, not connected) and that the database
    answers ``SELECT 1``.

    Raises:
        ConfigurationError: the LLM provider lacks a setting, or the archive's settings are
            invalid (naming the variable).
        DependencyUnavailableError: the database cannot be reached (naming
            ``DRAFTS_DATABASE_URL``).
    """
    settings.require_llm_config()
    await _archive(settings).close()
    engine = create_engine(settings.database_url, pre_ping=False)
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except (OSError, SQLAlchemyError) as exc:
        first = str(exc).strip().split("\n", 1)[0]
        raise DependencyUnavailableError("database", f"{first}; check DRAFTS_DATABASE_URL") from exc
    finally:
        await engine.dispose()


async def build_runtime(
    settings: DraftSettings,
    *,
    consume: bool | None = None,
    consumer: str | None = None,
    provider: LLMProvider | None = None,
    archive: MessageArchive | None = None,
) -> Runtime:
    """Build and start the service's parts.

    Args:
        settings: The settings.
        consume: Run jobs in this process; by default only without ``DRAFTS_REDIS_URL`` (the
            API then only enqueues and ``draft-service worker`` processes consume).
        consumer: The Redis consumer name of this process (workers).
        provider: Use this LLM provider instead of the one the settings select.
        archive: Use this archive instead of the activity-store one.

    Raises:
        ConfigurationError: a setting is invalid.
        DependencyUnavailableError: the database cannot be reached or migrated.
    """
    consume = consume if consume is not None else settings.redis_url is None
    # A Redis worker serves no requests: a dropped connection costs one redelivered job,
    # cheaper than testing every connection at each checkout.
    worker_only = consume and settings.redis_url is not None
    engine = create_engine(settings.database_url, pre_ping=not worker_only)
    if settings.telemetry.enabled:
        from api_core.telemetry import instrument_sqlalchemy

        instrument_sqlalchemy(engine)
    if settings.auto_migrate:
        from draft_service.db.migrate import upgrade

        await upgrade(engine)
    # An API warms its pooled connections for the sends (a worker serves none).
    await open_pool(engine, warm=None if worker_only else warm_up)
    provider = provider or build_provider(settings)
    archive = archive or _archive(settings)
    store = Store(session_factory(engine))
    job_engine = await _job_engine(settings, engine) if consume and not worker_only else None
    jobs = Store(session_factory(job_engine)) if job_engine is not None else store
    queue = _queue(settings, consumer, jobs)
    feed, limiter = _feed_and_limiter(settings)
    service = DraftService(
        settings,
        store,
        provider,
        archive,
        enqueue=queue.enqueue,
        feed=feed,
        jobs=jobs,
        queue_full=lambda: queue.full,
    )
    tasks: list[asyncio.Task[None]] = []
    if consume:
        tasks.append(asyncio.create_task(service.follow_control(), name="draft-control"))
        queue.start(service.run_job)
        if settings.redis_url is None:
            await _requeue_unfinished(store, queue)
    relay: Relay | None = None
    if settings.redis_url is not None:  # the memory queue cannot refuse a job
        relay = Relay(store, queue.enqueue, settings.queue_relay_interval)
        relay.start()
    _log.info(
        "draft_service_started",
        provider=getattr(provider, "name", "?"),
        queue="redis" if settings.redis_url else "memory",
        consuming=queue.running,
    )
    return Runtime(
        settings, engine, service, queue, provider, archive, feed, limiter, tasks, job_engine, relay
    )
