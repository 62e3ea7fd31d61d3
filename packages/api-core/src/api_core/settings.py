"""The base settings class services extend (pydantic-settings, nested with ``__``).

A service subclasses :class:`ApiSettings`, sets its own ``env_prefix`` and adds fields::

    class TaskSettings(ApiSettings):
        model_config = SettingsConfigDict(env_prefix="TASKQUEUE_")
        database_url: SecretStr = SecretStr("sqlite+aiosqlite:///tasks.db")

    settings = TaskSettings.load()   # fails fast, naming every bad TASKQUEUE_* variable
"""

from __future__ import annotations

from typing import Any, Literal, Self

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from platform_core.settings import load_settings

__all__ = ["ApiSettings", "CorsSettings", "HealthSettings", "TelemetrySettings"]


class CorsSettings(BaseModel):
    """Cross-origin resource sharing; CORS is off while ``allow_origins`` is empty."""

    allow_origins: list[str] = Field(
        default_factory=list, description='Origins allowed to call the API, e.g. ["https://a.io"].'
    )
    allow_methods: list[str] = Field(
        default_factory=lambda: ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
        description="HTTP methods allowed cross-origin.",
    )
    allow_headers: list[str] = Field(
        default_factory=lambda: ["*"], description="Request headers allowed cross-origin."
    )
    allow_credentials: bool = Field(
        default=False, description="Whether browsers may send cookies cross-origin."
    )
    max_age: int = Field(default=600, ge=0, description="Seconds browsers cache a preflight.")


class HealthSettings(BaseModel):
    """Readiness checks."""

    timeout: float = Field(
        default=5.0, gt=0, description="Default seconds each readiness check may take."
    )


class TelemetrySettings(BaseModel):
    """OpenTelemetry export; nothing is exported while ``enabled`` is false."""

    enabled: bool = Field(default=False, description="Export traces, metrics and logs via OTLP.")
    otlp_endpoint: str = Field(
        default="http://127.0.0.1:4318", description="OTLP/HTTP collector base URL."
    )
    otlp_headers: SecretStr | None = Field(
        default=None, description='Headers for the collector, "k1=v1,k2=v2" (e.g. an API key).'
    )
    sample_ratio: float = Field(
        default=1.0, ge=0, le=1, description="Fraction of new traces sampled (parent-based)."
    )
    export_interval: float = Field(
        default=60.0, gt=0, description="Seconds between metric exports."
    )


class ApiSettings(BaseSettings):
    """Settings every service built on ``create_app`` shares (prefix ``API_``).

    Nested groups use ``__``: ``API_CORS__ALLOW_ORIGINS='["https://app.example"]'``,
    ``API_TELEMETRY__ENABLED=true``.
    """

    model_config = SettingsConfigDict(
        env_prefix="API_", env_nested_delimiter="__", extra="ignore", validate_default=True
    )

    service_name: str = Field(default="api", min_length=1, description="service.name resource.")
    service_version: str = Field(default="0.1.0", description="service.version resource.")
    environment: Literal["development", "test", "staging", "production"] = Field(
        default="development", description="Deployment environment."
    )
    debug: bool = Field(default=False, description="FastAPI debug mode (never in production).")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = Field(
        default="INFO", description="Lowest log level written."
    )
    log_format: Literal["json", "console"] = Field(
        default="json", description="json lines for services, console for people."
    )
    max_body_size: int = Field(
        default=1_048_576, gt=0, description="Largest request body in bytes; larger gets 413."
    )
    request_id_header: str = Field(
        default="X-Request-ID", min_length=1, description="Header carrying the request id."
    )
    gc_freeze: bool = Field(
        default=True,
        description="After startup, move every object then alive out of the garbage "
        "collector's reach (gc.freeze): full collections then scan only what requests "
        "created, instead of pausing every request for the whole heap.",
    )
    gc_young_threshold: int = Field(
        default=5_000,
        ge=100,
        description="Set at startup: objects allocated (net of those freed) between two "
        "collections of the youngest generation (Python's default is 700). A collection "
        "walks the objects allocated since the last one and still alive, and pauses every "
        "request in flight meanwhile: at 20,000 that was 8-12 ms on a 2-core AMD EPYC; at 700 "
        "collections come every few requests and cost about a tenth of a request's CPU.",
    )
    session_secret: SecretStr | None = Field(
        default=None,
        min_length=32,
        description="Key that signs web sessions and CSRF tokens (32+ characters, the same in "
        "every process). Unset: a random one per process in development and test (sessions "
        "end at restart); required in staging and production once web pages are mounted.",
    )
    session_max_age: int = Field(
        default=28_800, gt=0, description="Seconds a web session lasts after sign-in."
    )
    session_https_only: bool = Field(
        default=False,
        description="Always mark the session cookie Secure (otherwise only on HTTPS requests, "
        "which includes X-Forwarded-Proto: https from a trusted proxy).",
    )
    cors: CorsSettings = Field(default_factory=CorsSettings, description="CORS settings.")
    health: HealthSettings = Field(
        default_factory=HealthSettings, description="Readiness check settings."
    )
    telemetry: TelemetrySettings = Field(
        default_factory=TelemetrySettings, description="OpenTelemetry settings."
    )

    @classmethod
    def load(cls, **overrides: Any) -> Self:
        """Read the settings from the environment.

        Raises:
            ConfigurationError: naming every invalid variable and what it accepts.
        """
        return load_settings(cls, **overrides)
