"""Settings of the draft service, read from ``DRAFTS_*`` and ``OPENROUTER_*`` variables."""

from __future__ import annotations

from typing import Any, Literal, Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from api_core import ApiSettings
from platform_core.errors import ConfigurationError
from platform_core.settings import load_settings

__all__ = ["DraftSettings"]

_DB_SCHEMES = ("sqlite+aiosqlite", "postgresql+asyncpg", "postgresql", "postgres", "sqlite")


class DraftSettings(ApiSettings):
    """Configuration of the draft service.

    Every field is read from ``DRAFTS_<FIELD>`` (the api-core fields too, e.g.
    ``DRAFTS_MAX_BODY_SIZE``, ``DRAFTS_LOG_LEVEL``) except the OpenRouter credentials, which use
    the conventional ``OPENROUTER_API_KEY`` and ``OPENROUTER_MODEL`` names.
    """

    model_config = SettingsConfigDict(
        env_prefix="DRAFTS_",
        env_nested_delimiter="__",
        extra="ignore",
        validate_default=True,
        populate_by_name=True,
    )

    service_name: str = Field(default="draft-service", min_length=1, description="Service name.")

    database_url: str = Field(
        default="sqlite+aiosqlite:///./drafts.db",
        description="SQLAlchemy URL: sqlite+aiosqlite:///file.db or postgresql+asyncpg://...",
    )
    redis_url: str | None = Field(
        default=None,
        description="When set, jobs go through Redis Streams and `draft-service worker` runs "
        "them; unset runs jobs in-process on the memory backend.",
    )
    api_key: SecretStr | None = Field(
        default=None, description="Bearer key every request must carry."
    )
    auth_disabled: bool = Field(
        default=False, description="Accept requests without a key (local development only)."
    )
    llm_provider: Literal["auto", "openai", "offline"] = Field(
        default="auto",
        description="`openai`, `offline`, or `auto`: openai when OPENROUTER_API_KEY is set.",
    )
    openrouter_api_key: SecretStr | None = Field(
        default=None,
        validation_alias="OPENROUTER_API_KEY",
        description="API key of the OpenAI-compatible endpoint.",
    )
    openrouter_model: str = Field(
        default="openai/gpt-4o-mini",
        validation_alias="OPENROUTER_MODEL",
        description="Model name sent to the endpoint.",
    )
    llm_base_url: str = Field(
        default="https://openrouter.ai/api/v1",
        description="Base URL of the OpenAI-compatible API (Ollama, vLLM, llama.cpp, ...).",
    )
    llm_timeout: float = Field(default=30.0, gt=0, description="Seconds per LLM call.")
    llm_max_tokens: int = Field(default=512, gt=0, description="Completion token limit.")
    llm_temperature: float = Field(default=0.3, ge=0, le=2, description="Sampling temperature.")
    llm_max_attempts: int = Field(default=4, ge=1, description="Attempts per LLM call.")
    llm_backoff_base: float = Field(default=0.5, gt=0, description="First retry wait, seconds.")
    llm_backoff_cap: float = Field(default=10.0, gt=0, description="Longest retry wait, seconds.")
    prompt_version: str = Field(default="v1", description="Prompt template version to render.")
    related_limit: int = Field(
        default=5, ge=0, description="Earlier messages retrieved from the archive per draft."
    )
    worker_concurrency: int = Field(default=8, ge=1, description="Jobs run at once per worker.")
    auto_migrate: bool = Field(
        default=True, description="Run the database migrations when the API or worker starts."
    )
    stream: str = Field(default="drafts:jobs", description="Redis stream of the job queue.")
    job_claim_idle_ms: int = Field(
        default=30_000,
        ge=10,
        description="A job held this long by a dead worker is taken over by another (ms).",
    )
    job_max_deliveries: int = Field(
        default=5, ge=1, description="Deliveries of a job event before it is dead-lettered."
    )

    @field_validator("database_url")
    @classmethod
    def _check_db(cls, value: str) -> str:
        scheme = value.split("://", 1)[0]
        if "://" not in value or scheme not in _DB_SCHEMES:
            raise ValueError(
                "must be sqlite+aiosqlite:///path.db or postgresql+asyncpg://user@host/db"
            )
        if scheme == "sqlite":
            value = "sqlite+aiosqlite" + value[len("sqlite") :]
        elif scheme in ("postgresql", "postgres"):
            value = "postgresql+asyncpg" + value[len(scheme) :]
        return value

    @model_validator(mode="after")
    def _check_backoff(self) -> Self:
        if self.llm_backoff_cap < self.llm_backoff_base:
            raise ValueError("DRAFTS_LLM_BACKOFF_CAP must be >= DRAFTS_LLM_BACKOFF_BASE")
        return self

    @classmethod
    def load(cls, **overrides: Any) -> Self:
        """Read the settings from the environment.

        Raises:
            ConfigurationError: naming the bad variable and what it accepts.
        """
        return load_settings(cls, **overrides)

    def resolved_provider(self) -> Literal["openai", "offline"]:
        """The LLM provider to use: ``auto`` picks openai only when a key is configured."""
        if self.llm_provider == "auto":
            return "openai" if self.openrouter_api_key is not None else "offline"
        return self.llm_provider

    def require_auth_config(self) -> None:
        """Fail unless a key is set or auth is explicitly disabled.

        Raises:
            ConfigurationError: when neither ``DRAFTS_API_KEY`` nor ``DRAFTS_AUTH_DISABLED``
                is set.
        """
        if self.api_key is None and not self.auth_disabled:
            raise ConfigurationError(
                "DRAFTS_API_KEY is not set: set it to the Bearer key clients must send, or set "
                "DRAFTS_AUTH_DISABLED=true for local development",
                setting="DRAFTS_API_KEY",
            )
