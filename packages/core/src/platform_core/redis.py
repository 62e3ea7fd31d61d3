"""Redis settings and a resilient async client (extra ``platform-core[redis]``).

``create_redis`` returns a ``redis.asyncio.Redis`` that retries connection errors with
exponential backoff; :func:`ping` and :func:`wrap_redis_errors` turn transport failures into
:class:`~platform_core.errors.DependencyUnavailableError` with the redis exception as cause.
"""

from __future__ import annotations

from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Self, cast
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from platform_core.errors import DependencyUnavailableError, MissingExtraError
from platform_core.settings import load_settings

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["RedisSettings", "create_redis", "ping", "wrap_redis_errors"]

_SCHEMES = ("redis", "rediss", "unix")


class RedisSettings(BaseSettings):
    """Connection settings for Redis, read from ``REDIS_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="REDIS_", extra="ignore")

    url: str = Field(
        default="redis://127.0.0.1:6379/0",
        description="redis://, rediss:// or unix:// URL of the server.",
    )
    pool_size: int = Field(default=50, gt=0, description="Maximum connections in the pool.")
    socket_timeout: float = Field(default=5.0, gt=0, description="Seconds to wait for a reply.")
    connect_timeout: float = Field(default=5.0, gt=0, description="Seconds to wait to connect.")
    health_check_interval: int = Field(
        default=30, ge=0, description="Seconds between idle-connection health checks; 0 = off."
    )
    retry_attempts: int = Field(
        default=3, ge=0, description="Retries of a command after a connection error."
    )
    retry_backoff_base: float = Field(
        default=0.05, gt=0, description="First backoff in seconds; doubles per retry."
    )
    retry_backoff_cap: float = Field(default=2.0, gt=0, description="Largest backoff, seconds.")
    key_prefix: str = Field(default="", description="Prepended to every key this app writes.")

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in _SCHEMES or not (parts.hostname or parts.path):
            raise ValueError(
                "must be a redis://host:port/db, rediss://host:port/db or unix:///path URL"
            )
        return value

    @classmethod
    def load(cls, **overrides: Any) -> Self:
        """Read the settings from the environment, failing with a :class:`ConfigurationError`
        that names the bad ``REDIS_*`` variable."""
        return load_settings(cls, **overrides)

    def redacted_url(self) -> str:
        """The URL with any password replaced, safe for logs."""
        parts = urlsplit(self.url)
        if parts.password is None:
            return self.url
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return parts._replace(netloc=netloc).geturl()


def _redis_module() -> Any:
    try:
        import redis.asyncio as aioredis
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise MissingExtraError("platform_core.redis", "platform-core[redis]", exc.name) from exc
    return aioredis


def create_redis(settings: RedisSettings | None = None) -> Redis:
    """Build an async Redis client that retries connection errors with exponential backoff.

    The client connects lazily; call :func:`ping` at start to fail fast when Redis is down.

    Args:
        settings: Connection settings; read from the environment when omitted.
    """
    aioredis = _redis_module()
    from redis.backoff import ExponentialBackoff
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError
    from redis.retry import Retry

    settings = settings or RedisSettings.load()
    retry = Retry(
        ExponentialBackoff(cap=settings.retry_backoff_cap, base=settings.retry_backoff_base),
        settings.retry_attempts,
        supported_errors=(RedisConnectionError, RedisTimeoutError, OSError),
    )
    client: Redis = aioredis.Redis.from_url(
        settings.url,
        max_connections=settings.pool_size,
        socket_timeout=settings.socket_timeout,
        socket_connect_timeout=settings.connect_timeout,
        health_check_interval=settings.health_check_interval,
        retry=retry,
        retry_on_error=[RedisConnectionError, RedisTimeoutError, OSError],
        decode_responses=False,
    )
    return client


@contextmanager
def wrap_redis_errors(action: str) -> Iterator[None]:
    """Re-raise redis connection and timeout errors as :class:`DependencyUnavailableError`.

    Args:
        action: What was being attempted, for the message (e.g. ``"XADD events"``).
    """
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    try:
        yield
    except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
        raise DependencyUnavailableError(
            "redis", f"{action} failed after retries: {exc}; check REDIS_URL and that Redis runs"
        ) from exc


async def ping(client: Redis) -> float:
    """Ping Redis and return the round trip in seconds.

    Raises:
        DependencyUnavailableError: when Redis cannot be reached after the client's retries.
    """
    import time

    start = time.perf_counter()
    with wrap_redis_errors("PING"):
        await cast("Awaitable[bool]", client.ping())
    return time.perf_counter() - start
