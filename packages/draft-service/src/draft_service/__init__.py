"""draft-service: message threads to LLM-drafted replies, with feedback, rejection and lineage.

Build the app with :func:`create_draft_app` (embedded defaults: SQLite, in-process jobs, the
offline drafter) or wire the parts yourself with :func:`build_runtime`.

Importing the package loads only its errors and prompt types; everything else (FastAPI,
SQLAlchemy, the ``openai`` client) loads on first use of the name that needs it, so tools and
workers that import ``draft_service`` do not pay for what they do not use.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from draft_service.errors import (
    ConflictError,
    DraftApiError,
    DraftClosedError,
    DraftJobFailedError,
    DraftNotFoundError,
    DraftServiceError,
    JobNotFoundError,
    JobNotRetryableError,
    LLMError,
    LLMOutputError,
    LLMRequestError,
    LLMTimeoutError,
    LLMUnavailableError,
    NotFoundError,
    QueueFullError,
    StaleDraftError,
)
from draft_service.prompt import Writer

if TYPE_CHECKING:
    from draft_service.api import create_draft_app
    from draft_service.llm import (
        Completion,
        DraftRequest,
        LLMProvider,
        OfflineProvider,
        build_provider,
    )
    from draft_service.llm.openai_provider import OpenAIProvider
    from draft_service.runtime import Runtime, build_runtime
    from draft_service.service import DraftService
    from draft_service.settings import DraftSettings

__version__ = "0.1.0"

_LAZY = {
    "create_draft_app": "draft_service.api",
    "Completion": "draft_service.llm",
    "DraftRequest": "draft_service.llm",
    "LLMProvider": "draft_service.llm",
    "OfflineProvider": "draft_service.llm",
    "build_provider": "draft_service.llm",
    "OpenAIProvider": "draft_service.llm.openai_provider",
    "Runtime": "draft_service.runtime",
    "build_runtime": "draft_service.runtime",
    "DraftService": "draft_service.service",
    "DraftSettings": "draft_service.settings",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


__all__ = [
    "Completion",
    "ConflictError",
    "DraftApiError",
    "DraftClosedError",
    "DraftJobFailedError",
    "DraftNotFoundError",
    "DraftRequest",
    "DraftService",
    "DraftServiceError",
    "DraftSettings",
    "JobNotFoundError",
    "JobNotRetryableError",
    "LLMError",
    "LLMOutputError",
    "LLMProvider",
    "LLMRequestError",
    "LLMTimeoutError",
    "LLMUnavailableError",
    "NotFoundError",
    "OfflineProvider",
    "OpenAIProvider",
    "QueueFullError",
    "Runtime",
    "StaleDraftError",
    "Writer",
    "__version__",
    "build_provider",
    "build_runtime",
    "create_draft_app",
]
