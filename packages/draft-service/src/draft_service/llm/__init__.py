"""LLM providers: ``openai`` (any OpenAI-compatible endpoint) and ``offline`` (no model).

:class:`OpenAIProvider` lives in a module that imports the ``openai`` client, so it is loaded
on first use (attribute access or :func:`build_provider` choosing it), never by importing
``draft_service``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from draft_service.llm.base import Completion, DeltaSink, DraftRequest, LLMProvider
from draft_service.llm.offline import OfflineProvider
from draft_service.llm.retry import backoff_delay, with_retries
from draft_service.settings import DraftSettings
from platform_core.logging import get_logger

if TYPE_CHECKING:
    from draft_service.llm.openai_provider import OpenAIProvider

__all__ = [
    "Completion",
    "DeltaSink",
    "DraftRequest",
    "LLMProvider",
    "OfflineProvider",
    "OpenAIProvider",
    "backoff_delay",
    "build_provider",
    "with_retries",
]

_log = get_logger("draft_service.llm")


def __getattr__(name: str) -> Any:
    if name == "OpenAIProvider":
        from draft_service.llm.openai_provider import OpenAIProvider

        return OpenAIProvider
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def build_provider(settings: DraftSettings) -> LLMProvider:
    """The provider the settings select (``DRAFTS_LLM_PROVIDER``; ``auto`` by default).

    Raises:
        ConfigurationError: ``openai`` was chosen but ``DRAFTS_LLM_API_KEY`` is not set.
    """
    choice = settings.resolved_provider()
    if choice == "offline":
        _log.warning(
            "llm_offline",
            detail="no DRAFTS_LLM_API_KEY: drafts are written by the offline drafter, without "
            "any model, and say so in their provenance",
        )
        return OfflineProvider()
    settings.require_llm_config()
    assert settings.llm_api_key is not None  # checked just above
    from draft_service.llm.openai_provider import OpenAIProvider

    _log.info("llm_openai", base_url=settings.llm_base_url, model=settings.llm_model)
    return OpenAIProvider(
        api_key=settings.llm_api_key.get_secret_value(),
        model=settings.llm_model,
        base_url=settings.llm_base_url,
        timeout=settings.llm_timeout,
        max_tokens=settings.llm_max_tokens,
        temperature=settings.llm_temperature,
    )
