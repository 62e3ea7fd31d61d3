"""Settings read from the environment (``ACTIVITY_STORE_*``, ``ES_*``)."""

from __future__ import annotations

from typing import Any, Self

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from platform_core.settings import load_settings

__all__ = ["ActivityStoreSettings", "ElasticsearchSettings", "PostgresSettings"]


class ActivityStoreSettings(BaseSettings):
    """Which backend and cache to use, read from ``ACTIVITY_STORE_*`` variables."""

    model_config = SettingsConfigDict(env_prefix="ACTIVITY_STORE_", extra="ignore")

    backend: str = Field(
        default="memory",
        min_length=1,
        description="Backend plugin: memory, elasticsearch or postgres (or an installed plugin).",
    )
    cache: str = Field(
        default="memory",
        min_length=1,
        description="Cache plugin name: memory or redis (or an installed plugin).",
    )
    namespace: str = Field(
        default="activity_store",
        pattern=r"^[a-z0-9][a-z0-9_.:-]*$",
        description="Prefix of index names and cache keys; lower-case letters, digits, _.:-.",
    )
    cache_ttl: float = Field(
        default=3600.0, gt=0, description="Seconds an object stays cached (default 1 hour)."
    )

    @classmethod
    def load(cls, **overrides: Any) -> Self:
        """Read the settings, failing with a ConfigurationError naming the bad variable."""
        return load_settings(cls, **overrides)


class ElasticsearchSettings(BaseSettings):
    """Connection to Elasticsearch, read from ``ES_*`` variables."""

    model_config = SettingsConfigDict(env_prefix="ES_", extra="ignore")

    url: str = Field(
        default="http://127.0.0.1:9200",
        description="http(s):// URL of the cluster; ignored when ES_CLOUD_ID is set.",
    )
    cloud_id: str | None = Field(default=None, description="Elastic Cloud deployment id.")
    api_key: SecretStr | None = Field(default=None, description="API key (with cloud or URL).")
    request_timeout: float = Field(default=10.0, gt=0, description="Seconds per request.")

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL, e.g. http://127.0.0.1:9200")
        return value.rstrip("/")

    @classmethod
    def load(cls, **overrides: Any) -> Self:
        """Read the settings, failing with a ConfigurationError naming the bad variable."""
        return load_settings(cls, **overrides)


class PostgresSettings(BaseSettings):
    """Connection to PostgreSQL for the ``postgres`` backend, read from ``ACTIVITY_STORE_*``."""

    model_config = SettingsConfigDict(env_prefix="ACTIVITY_STORE_", extra="ignore")

    database_url: SecretStr = Field(
        default=SecretStr("postgresql://postgres@127.0.0.1:5432/postgres"),
        description="postgresql:// URL (postgresql+asyncpg:// is accepted too).",
    )
    pool_size: int = Field(default=10, ge=1, le=1000, description="Most pooled connections.")
    command_timeout: float = Field(default=10.0, gt=0, description="Seconds per statement.")

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: SecretStr) -> SecretStr:
        raw = value.get_secret_value()
        scheme, sep, rest = raw.partition("://")
        if not sep or scheme not in ("postgresql", "postgres", "postgresql+asyncpg"):
            raise ValueError(
                "must be a postgresql:// URL, e.g. postgresql://user@127.0.0.1:5432/db"
            )
        return SecretStr(f"postgresql://{rest}")

    @classmethod
    def load(cls, **overrides: Any) -> Self:
        """Read the settings, failing with a ConfigurationError naming the bad variable."""
        return load_settings(cls, **overrides)
