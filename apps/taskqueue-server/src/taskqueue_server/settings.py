"""Server settings, read from ``TASKQUEUE_*`` environment variables."""

from __future__ import annotations

from typing import Any, Self

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from api_core import ApiSettings
from platform_core.settings import load_settings
from taskqueue_server.db.keyformat import MIN_SECRET_CHARS, is_well_formed_key

__all__ = ["ServerSettings"]

_DB_SCHEMES = ("sqlite", "sqlite+aiosqlite", "postgresql", "postgresql+asyncpg", "postgres")


class ServerSettings(ApiSettings):
    """Everything the Task Queue server reads at start.

    Every field maps to ``TASKQUEUE_<FIELD>``; e.g. ``TASKQUEUE_DATABASE_URL``. The fields
    inherited from :class:`api_core.ApiSettings` (``TASKQUEUE_MAX_BODY_SIZE``,
    ``TASKQUEUE_LOG_LEVEL``, ``TASKQUEUE_CORS__ALLOW_ORIGINS``...) use the same prefix.
    """

    model_config = SettingsConfigDict(
        env_prefix="TASKQUEUE_", env_nested_delimiter="__", extra="ignore", validate_default=True
    )

    service_name: str = Field(default="taskqueue-server", min_length=1, description="Name.")

    database_url: str = Field(
        default="sqlite:///./taskqueue.db",
        description="sqlite:///path.db (embedded default) or postgresql://user@host/db.",
    )
    redis_url: SecretStr | None = Field(
        default=None,
        description="redis:// URL; enables Redis Streams events and the shared rate limiter.",
    )
    redis_key_prefix: str = Field(default="taskqueue:", description="Prefix for Redis keys.")
    host: str = Field(default="127.0.0.1", description="Interface `serve` binds to.")
    port: int = Field(default=8080, ge=0, le=65535, description="Port `serve` listens on.")
    auth_disabled: bool = Field(
        default=False, description="Accept requests without an API key (logs a warning)."
    )
    api_key_cache_seconds: float = Field(
        default=1.0,
        ge=0,
        description="Seconds a server trusts an API key it verified before checking it again "
        "(0: every request). `revoke-api-key` waits this long, so when it returns, every "
        "server refuses the key.",
    )
    rate_limit_per_minute: int = Field(
        default=600, ge=1, description="Requests per API key per minute before 429."
    )
    max_page_size: int = Field(default=500, ge=1, description="Largest `limit` on list routes.")
    claim_wait_max: float = Field(
        default=30.0,
        ge=0,
        le=30.0,
        description="Longest a claim's long poll (`wait`) is held, in seconds; lower it when "
        "a proxy in front of the API closes idle requests sooner.",
    )
    auth_failures_per_minute: int = Field(
        default=30,
        ge=1,
        description="Failed authentications per client address per minute; beyond them every "
        "request from that address is answered 429 until the minute ends.",
    )
    max_text_length: int = Field(
        default=65_536,
        ge=1,
        description="Longest free-text value (command, description, specs, a phase's "
        "documentation, each list item...) in characters; 422 beyond.",
    )
    max_env_vars: int = Field(
        default=200, ge=0, description="Most entries in a task's environment (plain + secret)."
    )
    max_env_key_length: int = Field(
        default=256, ge=1, description="Longest environment variable name, in characters."
    )
    max_env_value_length: int = Field(
        default=32_768, ge=1, description="Longest environment variable value, in characters."
    )
    max_json_bytes: int = Field(
        default=65_536,
        ge=2,
        description="Largest `metadata` (and task `result`) as compact JSON, in bytes.",
    )
    max_json_depth: int = Field(
        default=32, ge=1, description="Deepest nesting of `metadata` and `result` values."
    )
    lease_sweep_interval: float = Field(
        default=2.0,
        gt=0,
        description="Seconds between sweeps that return expired leases to the queue.",
    )
    idempotency_ttl_seconds: int = Field(
        default=86_400, ge=1, description="How long Idempotency-Key responses are kept."
    )
    idempotency_lock_seconds: float = Field(
        default=60.0,
        gt=0,
        description="Seconds an Idempotency-Key stays reserved by a request that never "
        "finished (its process died) before a retry may run it again.",
    )
    webhook_allow_private: bool = Field(
        default=False,
        description="Allow webhook URLs resolving to private or loopback addresses.",
    )
    webhook_timeout: float = Field(default=10.0, gt=0, description="Seconds per delivery POST.")
    webhook_retry_horizon: float = Field(
        default=86_400.0, gt=0, description="Seconds after the first attempt to keep retrying."
    )
    webhook_backoff_base: float = Field(
        default=5.0, gt=0, description="First retry delay in seconds; doubles, jittered."
    )
    webhook_backoff_cap: float = Field(default=3_600.0, gt=0, description="Largest retry delay.")
    bootstrap_api_key: SecretStr | None = Field(
        default=None,
        description="An API key (tq_<prefix>_<secret>) that `serve` stores at start if absent.",
    )
    webhook_concurrency: int = Field(
        default=50, gt=0, description="Webhook deliveries sent at once by one process."
    )
    delivery_poll_interval: float = Field(
        default=0.5, gt=0, description="Seconds between scans for due deliveries."
    )

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        scheme = value.split("://", 1)[0] if "://" in value else ""
        if scheme not in _DB_SCHEMES:
            raise ValueError("must be sqlite:///path.db or postgresql://user@host:port/dbname")
        return value

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith(
            ("redis://", "rediss://", "unix://")
        ):
            raise ValueError("must be a redis://, rediss:// or unix:// URL")
        return value

    @field_validator("bootstrap_api_key")
    @classmethod
    def _check_bootstrap_api_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not is_well_formed_key(value.get_secret_value()):
            raise ValueError(
                "must look like tq_<prefix>_<secret>: a prefix of 1-32 letters or digits and a "
                f"secret of at least {MIN_SECRET_CHARS} characters (e.g. the output of "
                "`taskqueue-server create-api-key`)"
            )
        return value

    @classmethod
    def load(cls, **overrides: Any) -> Self:
        """Read the settings from the environment.

        Raises:
            ConfigurationError: naming the bad ``TASKQUEUE_*`` variable.
        """
        return load_settings(cls, **overrides)
