"""draft-service: message threads to LLM-drafted replies, with feedback, rejection and lineage.

Build the app with :func:`create_draft_app` (embedded defaults: SQLite, in-process jobs, the
offline drafter) or wire the parts yourself with :func:`build_runtime`.
"""

from draft_service.api import create_draft_app
from draft_service.errors import (
    DraftNotFoundError,
    DraftServiceError,
    JobNotFoundError,
    LLMError,
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
    OpenAIProvider,
    build_provider,
)
from draft_service.runtime import Runtime, build_runtime
from draft_service.service import DraftService
from draft_service.settings import DraftSettings

__version__ = "0.1.0"

__all__ = [
    "Completion",
    "DraftNotFoundError",
    "DraftRequest",
    "DraftService",
    "DraftServiceError",
    "DraftSettings",
    "JobNotFoundError",
    "LLMError",
    "LLMProvider",
    "LLMRequestError",
    "LLMTimeoutError",
    "LLMUnavailableError",
    "NotFoundError",
    "OfflineProvider",
    "OpenAIProvider",
    "Runtime",
    "StaleDraftError",
    "__version__",
    "build_provider",
    "build_runtime",
    "create_draft_app",
]
