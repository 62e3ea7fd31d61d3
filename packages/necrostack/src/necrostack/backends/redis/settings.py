"""Settings of the Redis Streams backend, read from ``NECROSTACK_*`` environment variables."""

from __future__ import annotations

import os
import socket
import uuid
from typing import Any, Self

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from necrostack.backends.redis._partitions import Partition, layout
from platform_core.settings import load_settings

__all__ = ["RedisBackendSettings"]


def _default_consumer() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class RedisBackendSettings(BaseSettings):
    """How the Redis backend names its keys and when it retries, reclaims and gives up.

    The connection itself comes from :class:`platform_core.redis.RedisSettings` (``REDIS_URL``).
    """

    model_config = SettingsConfigDict(env_prefix="NECROSTACK_", extra="ignore")

    stream: str = Field(default="necrostack:events", min_length=1, description="Stream key.")
    group: str = Field(default="necrostack", min_length=1, description="Consumer group name.")
    consumer: str = Field(
        default_factory=_default_consumer,
        min_length=1,
        description="This worker's consumer name; unique per process by default.",
    )
    dead_letter_stream: str | None = Field(
        default=None, description="Dead-letter stream key; '<stream>:dead' when unset."
    )
    batch_size: int = Field(default=100, ge=1, le=10_000, description="XREADGROUP COUNT.")
    claim_idle_ms: int = Field(
        default=30_000,
        ge=10,
        description="An entry pending this long without its consumer refreshing it is "
        "reclaimed (XAUTOCLAIM) by another consumer.",
    )
    max_deliveries: int = Field(
        default=5, ge=1, description="Deliveries before an entry goes to the dead-letter stream."
    )
    retry_backoff_base: float = Field(
        default=0.5, gt=0, description="Seconds before the first retry; doubles per retry."
    )
    retry_backoff_cap: float = Field(default=60.0, gt=0, description="Longest retry delay.")
    maxlen: int = Field(
        default=1_000_000,
        ge=0,
        description="Approximate stream length cap (XADD MAXLEN ~); 0 = unbounded.",
    )
    dead_letter_maxlen: int = Field(
        default=100_000, ge=0, description="Approximate dead-letter stream cap; 0 = unbounded."
    )
    partitions: int = Field(
        default=1,
        ge=1,
        le=1024,
        description="Stream keys the events are spread over by their key (else their id). "
        "Above 1, each partition is read by one consumer at a time, which keeps the order "
        "of events with the same key.",
    )
    cluster: bool = Field(
        default=False,
        description="REDIS_URL names a node of a Redis Cluster (redis.asyncio.cluster).",
    )
    max_event_bytes: int = Field(
        default=1024 * 1024,
        ge=1,
        description="Largest event, as JSON, that enqueue accepts.",
    )
    reconnect_timeout: float = Field(
        default=60.0,
        gt=0,
        description="Seconds to keep reconnecting after Redis drops before raising.",
    )

    @classmethod
    def load(cls, **overrides: Any) -> Self:
        """Read the settings from the environment and ``overrides``.

        Raises:
            platform_core.errors.ConfigurationError: a value is invalid; names the variable.
        """
        return load_settings(cls, **overrides)

    def keys(self, prefix: str = "") -> tuple[str, str, str]:
        """The stream, dead-letter stream and retry schedule keys of partition 0 (the only
        one unless ``partitions`` is above 1), with ``prefix`` applied."""
        part = self.layout(prefix)[0]
        return part.stream, part.dead, part.retry

    def layout(self, prefix: str = "", *, tagged: bool | None = None) -> tuple[Partition, ...]:
        """Every partition's keys, with ``prefix`` applied.

        Args:
            prefix: The Redis key prefix.
            tagged: Force the hash-tagged layout; defaults to ``cluster``.
        """
        return layout(
            prefix,
            self.stream,
            self.dead_letter_stream,
            self.partitions,
            tagged=self.cluster if tagged is None else tagged,
        )
