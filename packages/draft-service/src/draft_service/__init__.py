"""draft-service: message threads to LLM-drafted replies, with feedback, rejection and lineage.

Build the app with :func:`create_draft_app` (embedded defaults: SQLite, in-process jobs, the
offline drafter) or wire the parts yourself with :func:`build_runtime`.
"""

from typing import TYPE_CHECKING, Any

from draft_service.api import create_draft_app
from draft_service.errors import (
    ConflictError,
    DraftClosedError,
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
    StaleDraftError,
)
from draft_service.llm import (
    Completion,
    DraftRequest,
    LLMProvider,
    OfflineProvider,
    build_provider,
)
from draft_service.prompt import Writer
from draft_service.runtime import Runtime, build_runtime
from draft_service.service import DraftService
from draft_service.settings import DraftSettings

if TYPE_CHECKING:
    from draft_service.llm.openai_provider import OpenAIProvider

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # The openai client takes about a second to import: only when its provider is used.
    if name == "OpenAIProvider":
        from draft_service.llm.openai_provider import OpenAIProvider

        return OpenAIProvider
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Completion",
    "ConflictError",
    "DraftClosedError",
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
    "Runtime",
    "StaleDraftError",
    "Writer",
    "__version__",
    "build_provider",
    "build_runtime",
    "create_draft_app",
]
