"""LLM providers: ``openai`` (any OpenAI-compatible endpoint) and ``offline`` (no model)."""

from __future__ import annotations

from draft_service.llm.base import Completion, DraftRequest, LLMProvider
from draft_service.llm.offline import OfflineProvider
from draft_service.llm.openai_provider import OpenAIProvider
from draft_service.llm.retry import backoff_delay, with_retries
from draft_service.settings import DraftSettings
from platform_core.logging import get_logger

__all__ = [
    "Completion",
    "DraftRequest",
    "LLMProvider",
    "OfflineProvider",
    "OpenAIProvider",
    "backoff_delay",
    "build_provider",
    "with_retries",
]

_log = get_logger("draft_service.llm")


def build_provider(settings: DraftSettings) -> LLMProvider:
    """The provider the settings select (``DRAFTS_LLM_PROVIDER``; ``auto`` by default).

    Raises:
        ConfigurationError: ``openai`` was chosen but ``OPENROUTER_API_KEY`` is not set.
    """
    from platform_core.errors import ConfigurationError

    choice = settings.resolved_provider()
    if choice == "offline":
        _log.warning(
            "llm_offline",
            detail="no OPENROUTER_API_KEY: drafts are written by the deterministic offline "
            "drafter, without any model",
        )
        return OfflineProvider()
    if settings.openrouter_api_key is None:
        raise ConfigurationError(
            "DRAFTS_LLM_PROVIDER=openai needs OPENROUTER_API_KEY (any non-empty value for local "
            "servers such as Ollama)",
            setting="OPENROUTER_API_KEY",
        )
    _log.info("llm_openai", base_url=settings.llm_base_url, model=settings.openrouter_model)
    return OpenAIProvider(
        api_key=settings.openrouter_api_key.get_secret_value(),
        model=settings.openrouter_model,
        base_url=settings.llm_base_url,
        timeout=settings.llm_timeout,
        max_tokens=settings.llm_max_tokens,
        temperature=settings.llm_temperature,
    )
