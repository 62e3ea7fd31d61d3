"""Errors raised by draft-service.

Hierarchy::

    PlatformError                         (platform_core)
    └── DraftServiceError                 root of every error draft-service raises on purpose
        ├── NotFoundError                 a thread, draft or job does not exist for this user
        │   ├── DraftNotFoundError
        │   └── JobNotFoundError
        ├── ConflictError                 the request does not fit the current state (409)
        │   ├── DraftClosedError          feedback on a rejected or superseded draft
        │   └── JobNotRetryableError      retry of a job that did not fail, or was overtaken
        ├── StaleDraftError               newer messages arrived while a draft was being written
        ├── QueueFullError                too many jobs wait in this process; nothing stored (503)
        ├── DraftApiError                 the draft API answered an error, or could not be reached
        ├── DraftJobFailedError           a job an MCP tool waited for failed or was discarded
        └── LLMError                      the language model could not produce a draft
            ├── LLMUnavailableError       retryable: connection error, 429, 5xx
            │   └── LLMTimeoutError       retryable: the call took longer than the timeout
            ├── LLMOutputError            the answer is unusable (empty, echo, wrong addressee)
            └── LLMRequestError           not retryable: the provider refused the request (4xx)

Transport exceptions (``openai``, ``httpx``, database drivers) are kept as ``__cause__``.
"""

from __future__ import annotations

from platform_core.errors import PlatformError

__all__ = [
    "ConflictError",
    "DraftApiError",
    "DraftClosedError",
    "DraftJobFailedError",
    "DraftNotFoundError",
    "JobNotRetryableError",
    "LLMOutputError",
    "DraftServiceError",
    "JobNotFoundError",
    "LLMError",
    "LLMRequestError",
    "LLMTimeoutError",
    "LLMUnavailableError",
    "NotFoundError",
    "QueueFullError",
    "StaleDraftError",
]


class DraftServiceError(PlatformError):
    """Root of every error draft-service raises deliberately."""


class NotFoundError(DraftServiceError):
    """Something the caller asked for does not exist, or belongs to another user."""


class DraftNotFoundError(NotFoundError):
    """No draft with this id exists for this user.

    Args:
        draft_id: The draft id that was asked for.
    """

    def __init__(self, draft_id: str) -> None:
        super().__init__(
            f"draft {draft_id!r} not found for this user; list current drafts with "
            "GET /draft-messages/?user_id=..."
        )
        self.draft_id = draft_id


class JobNotFoundError(NotFoundError):
    """No job with this id exists for this user.

    Args:
        job_id: The job id that was asked for.
    """

    def __init__(self, job_id: str) -> None:
        super().__init__(
            f"job {job_id!r} not found for this user; use the job_id returned by "
            "POST /send-messages/ or POST /process-feedback/"
        )
        self.job_id = job_id


class ConflictError(DraftServiceError):
    """The request does not fit the current state of what it names; the message says why."""


class DraftClosedError(ConflictError):
    """Feedback was sent for a draft that is rejected or superseded.

    Args:
        draft_id: The draft.
        status: ``rejected``, ``superseded`` or ``sent``.
    """

    def __init__(self, draft_id: str, status: str) -> None:
        hint = (
            "a newer draft of the thread replaced it; list current drafts with "
            "GET /draft-messages/?user_id=..."
            if status == "superseded"
            else f"a {status} draft is not revised; send new messages to draft again"
        )
        super().__init__(f"draft {draft_id!r} is {status}: {hint}")
        self.draft_id = draft_id
        self.status = status


class JobNotRetryableError(ConflictError):
    """A retry was asked for a job that cannot be run again; the message says why."""


class DraftApiError(DraftServiceError):
    """The draft API answered with an error, or could not be reached (the MCP server's
    client, :class:`draft_service.mcp.DraftApiClient`).

    Args:
        message: What went wrong.
        problem: The RFC 9457 problem details: the API's body when it sent one, otherwise
            one built from the failure (``title``, ``detail`` and ``status`` when known).
        status_code: The HTTP status, ``None`` when no answer came.
    """

    def __init__(
        self, message: str, *, problem: dict[str, object], status_code: int | None = None
    ) -> None:
        super().__init__(message)
        self.problem = problem
        self.status_code = status_code


class DraftJobFailedError(DraftServiceError):
    """A drafting job an MCP tool waited for ended ``failed`` or ``discarded``.

    Args:
        message: What happened and what to do next.
        problem: Problem details for the tool error, the job's view under ``job``.
    """

    def __init__(self, message: str, *, problem: dict[str, object]) -> None:
        super().__init__(message)
        self.problem = problem


class StaleDraftError(DraftServiceError):
    """The thread changed while the draft was being written, so the draft was discarded.

    Args:
        thread_version: The thread version the job was drafting for.
        current_version: The thread version found when saving.
    """

    def __init__(self, thread_version: int, current_version: int) -> None:
        super().__init__(
            f"discarded as stale: drafted for thread version {thread_version} but the thread "
            f"is at version {current_version}; the job for the newer messages drafts instead"
        )
        self.thread_version = thread_version
        self.current_version = current_version


class QueueFullError(DraftServiceError):
    """Too many jobs wait for this process's job runners (memory mode): the request was
    refused before anything was stored, so sending it again later is safe.

    Args:
        waiting: Jobs waiting.
        retry_after: Seconds to wait before sending again.
    """

    def __init__(self, waiting: int, retry_after: int = 30) -> None:
        super().__init__(
            f"{waiting} jobs are waiting in this process (DRAFTS_MAX_WAITING_JOBS); nothing "
            f"was stored: retry after {retry_after} s, or run workers on Redis "
            "(DRAFTS_REDIS_URL)"
        )
        self.waiting = waiting
        self.retry_after = retry_after


class LLMError(DraftServiceError):
    """The language model could not produce a draft."""


class LLMUnavailableError(LLMError):
    """A retryable failure: the endpoint is down, rate-limited (429) or failing (5xx).

    Args:
        message: What happened.
        retry_after: Seconds the server asked to wait (``Retry-After``), if it did.
    """

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class LLMTimeoutError(LLMUnavailableError):
    """The model did not answer within ``DRAFTS_LLM_TIMEOUT`` seconds."""


class LLMOutputError(LLMError):
    """The model answered, but the answer cannot be offered as a draft (empty, a copy of the
    conversation, or addressed to the writer); retried once, then the job fails with it."""


class LLMRequestError(LLMError):
    """The provider refused the request (4xx other than 429); retrying will not help."""
