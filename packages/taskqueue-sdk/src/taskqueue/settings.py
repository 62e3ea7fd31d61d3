"""Client settings from the environment (``TASKQUEUE_`` prefix)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from platform_core.settings import load_settings

__all__ = ["ClientSettings"]


class ClientSettings(BaseSettings):
    """What a client uses when its constructor is not told.

    Attributes:
        base_url: ``TASKQUEUE_BASE_URL``, the server's root URL.
        api_key: ``TASKQUEUE_API_KEY``, sent as ``Authorization: Bearer <key>``.
        timeout: ``TASKQUEUE_TIMEOUT``, seconds per request.
        max_connections: ``TASKQUEUE_MAX_CONNECTIONS``, the connection pool size.
        transport: ``TASKQUEUE_TRANSPORT``, the async client's HTTP stack: ``httpx`` or
            ``aiohttp`` (needs ``taskqueue-sdk[aiohttp]``). The sync client always uses httpx.
    """

    model_config = SettingsConfigDict(env_prefix="TASKQUEUE_", extra="ignore")

    base_url: str = "http://localhost:8080"
    api_key: SecretStr | None = None
    timeout: float = Field(default=30.0, gt=0)
    max_connections: int = Field(default=1000, ge=1)
    transport: Literal["httpx", "aiohttp"] = "httpx"

    @classmethod
    def load(cls, **overrides: object) -> ClientSettings:
        """Load from the environment; a bad value raises ConfigurationError naming it."""
        return load_settings(cls, **overrides)
