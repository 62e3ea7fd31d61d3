"""Settings of the draft service, read from ``DRAFTS_*`` variables (``OPENROUTER_*`` aliases)."""

from __future__ import annotations

from typing import Any, Literal, Self
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from api_core import ApiSettings
from platform_core.errors import ConfigurationError
from platform_core.settings import load_settings

__all__ = ["DraftSettings"]

_DB_SCHEMES = ("sqlite+aiosqlite", "postgresql+asyncpg", "postgresql", "postgres", "sqlite")


class DraftSettings(ApiSettings):
    """Configuration of the draft service.

    Every field is read from ``DRAFTS_<FIELD>`` (the api-core fields too, e.g.
    ``DRAFTS_MAX_BODY_SIZE``, ``DRAFTS_LOG_LEVEL``). The LLM endpoint's ``DRAFTS_LLM_API_KEY``,
    ``DRAFTS_LLM_MODEL`` and ``DRAFTS_LLM_BASE_URL`` also accept the ``OPENROUTER_API_KEY``,
    ``OPENROUTER_MODEL`` and ``OPENROUTER_BASE_URL`` names.
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
    read_only_api_key: SecretStr | None = Field(
        default=None,
        description="A second Bearer key that may only read: GET routes, event streams and "
        "the MCP server's read-only tools; writes with it are refused with 403.",
    )
    auth_disabled: bool = Field(
        default=False, description="Accept requests without a key (local development only)."
    )
    llm_provider: Literal["auto", "openai", "offline"] = Field(
        default="auto",
        description="`openai`, `offline`, or `auto`: openai when DRAFTS_LLM_API_KEY is set.",
    )
    llm_api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("DRAFTS_LLM_API_KEY", "OPENROUTER_API_KEY", "llm_api_key"),
        description="API key of the OpenAI-compatible endpoint (alias OPENROUTER_API_KEY; any "
        "non-empty value for a local server).",
    )
    llm_model: str = Field(
        default="openai/gpt-4o-mini",
        min_length=1,
        validation_alias=AliasChoices("DRAFTS_LLM_MODEL", "OPENROUTER_MODEL", "llm_model"),
        description="Model name sent to the endpoint (alias OPENROUTER_MODEL).",
    )
    llm_base_url: str = Field(
        default="https://openrouter.ai/api/v1",
        validation_alias=AliasChoices("DRAFTS_LLM_BASE_URL", "OPENROUTER_BASE_URL", "llm_base_url"),
        description="Base URL of the OpenAI-compatible API, e.g. http://127.0.0.1:8080/v1 for "
        "llama.cpp or http://127.0.0.1:11434/v1 for Ollama.",
    )
    llm_timeout: float = Field(default=30.0, gt=0, description="Seconds per LLM call.")
    llm_deadline: float = Field(
        default=120.0,
        gt=0,
        description="Seconds a job may spend on LLM calls and retry waits, counted from its "
        "turn under DRAFTS_LLM_CONCURRENCY (waiting for the turn is not counted).",
    )
    llm_max_tokens: int = Field(default=512, gt=0, description="Completion token limit.")
    llm_temperature: float = Field(default=0.3, ge=0, le=2, description="Sampling temperature.")
    llm_max_attempts: int = Field(default=20, ge=1, description="Attempts per LLM call.")
    llm_backoff_base: float = Field(default=0.5, gt=0, description="First retry wait, seconds.")
    llm_backoff_cap: float = Field(default=10.0, gt=0, description="Longest retry wait, seconds.")
    llm_concurrency: int = Field(
        default=2, ge=1, description="LLM calls at once per process; other jobs wait their turn."
    )
    prompt_version: str = Field(default="v2", description="Prompt template version to render.")
    related_scope: Literal["thread", "participants", "user"] = Field(
        default="participants",
        description="Where related earlier messages come from: `thread` (none beyond the "
        "thread), `participants` (the user's earlier threads with the same counterparts) or "
        "`user` (all of the user's threads).",
    )
    related_limit: int = Field(
        default=5, ge=0, description="Earlier messages retrieved from the archive per draft."
    )
    rate_limit_per_minute: int = Field(
        default=600,
        ge=0,
        description="Writes (sends, feedback, rejections, retries, profile updates) a user may "
        "make per minute; 0 turns the limit off. Shared through Redis with DRAFTS_REDIS_URL.",
    )
    worker_concurrency: int = Field(default=8, ge=1, description="Jobs run at once per worker.")
    max_waiting_jobs: int = Field(
        default=100_000,
        ge=1,
        description="Memory mode: jobs that may wait for this process's runners; beyond it, "
        "sends, feedback and retries are refused with 503 before anything is stored.",
    )
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
    queue_handover_timeout: float = Field(
        default=5.0,
        gt=0,
        description="Redis mode: seconds a request keeps trying to hand its stored job to "
        "Redis; then the job waits in the database and the relay hands it over later.",
    )
    queue_relay_interval: float = Field(
        default=5.0,
        gt=0,
        description="Redis mode: seconds between the relay's rounds over stored jobs that "
        "Redis did not take.",
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

    @field_validator("llm_base_url")
    @classmethod
    def _check_base_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                "must be an http:// or https:// URL with a host, e.g. http://127.0.0.1:8080/v1"
            )
        if parts.query or parts.fragment:
            raise ValueError("must not carry a query or fragment; give the API root, e.g. .../v1")
        return value.rstrip("/")

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
        try:
            return load_settings(cls, **overrides)
        except ConfigurationError as exc:
            # Fields read through alias choices report the alias, which already carries the
            # prefix: name the variable once.
            doubled = "DRAFTS_DRAFTS_"
            if doubled not in str(exc) and not (exc.setting or "").startswith(doubled):
                raise
            setting = (exc.setting or "").replace(doubled, "DRAFTS_") or None
            raise ConfigurationError(str(exc).replace(doubled, "DRAFTS_"), setting=setting) from (
                exc.__cause__
            )

    def resolved_provider(self) -> Literal["openai", "offline"]:
        """The LLM provider to use: ``auto`` picks openai only when a key is configured."""
        if self.llm_provider == "auto":
            return "openai" if self.llm_api_key is not None else "offline"
        return self.llm_provider

    def require_llm_config(self) -> None:
        """Fail unless the selected LLM provider has what it needs.

        Raises:
            ConfigurationError: ``DRAFTS_LLM_PROVIDER=openai`` without ``DRAFTS_LLM_API_KEY``.
        """
        if self.resolved_provider() == "openai" and self.llm_api_key is None:
            raise ConfigurationError(
                "DRAFTS_LLM_PROVIDER=openai needs DRAFTS_LLM_API_KEY (alias OPENROUTER_API_KEY; "
                "any non-empty value for a local server such as llama.cpp or Ollama)",
                setting="DRAFTS_LLM_API_KEY",
            )

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
