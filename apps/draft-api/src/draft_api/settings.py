"""How the deployable binds and logs, read from ``DRAFT_API_*`` variables.

The service itself is configured by draft-service's ``DRAFTS_*`` variables (``OPENROUTER_*``
accepted as aliases of the LLM ones); its message archive by activity-store's
``ACTIVITY_STORE_*`` variables (``ACTIVITY_STORE_BACKEND=elasticsearch`` with ``ES_URL``, or
``postgres`` with ``ACTIVITY_STORE_DATABASE_URL``).
"""

from __future__ import annotations

from typing import Any, Self

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from platform_core.settings import load_settings

__all__ = ["DraftApiSettings"]


class DraftApiSettings(BaseSettings):
    """Bind address and server options of the draft API process."""

    model_config = SettingsConfigDict(env_prefix="DRAFT_API_", extra="ignore")

    host: str = Field(default="0.0.0.0", description="Interface to bind.")  # noqa: S104
    port: int = Field(default=8000, ge=1, le=65535, description="Port to bind.")
    proxy_headers: bool = Field(
        default=True, description="Trust X-Forwarded-* from the load balancer."
    )
    graceful_timeout: float = Field(
        default=20.0, gt=0, description="Seconds to finish in-flight requests on shutdown."
    )

    @classmethod
    def load(cls, **overrides: Any) -> Self:
        """Read the settings, failing with the bad ``DRAFT_API_*`` variable named.

        Raises:
            ConfigurationError: a value is invalid.
        """
        return load_settings(cls, **overrides)
