"""An async client of the draft API over HTTP: what the MCP tools call.

Every rule (the API key, validation, ownership of drafts and jobs, rate limits) stays in the
API; this client only sends requests, parses the API's models and turns error answers into
:class:`~draft_service.errors.DraftApiError` carrying the API's problem details.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from types import TracebackType
from typing import Any, Self, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, TypeAdapter
from pydantic import ValidationError as PydanticValidationError

from draft_service.errors import DraftApiError
from draft_service.models import (
    AcceptedResponse,
    DraftDetail,
    DraftListResponse,
    FeedbackRequest,
    JobView,
    MessageResponse,
    RejectRequest,
    SendMessagesRequest,
)

__all__ = ["FINAL_JOB_STATES", "DraftApiClient", "JobEvent", "JobEventSource"]

FINAL_JOB_STATES = frozenset({"done", "truncated", "failed", "discarded"})
"""Job states after which nothing more happens (until a retry)."""

JobEvent = tuple[str, dict[str, Any]]
"""One event of a job's feed: its type (``state``, ``delta``) and its payload."""

JobEventSource = Callable[[str, str], AsyncGenerator[JobEvent, None]]
"""Given ``(job_id, user_id)``, the job's events from its start until a final state."""

_M = TypeVar("_M", bound=BaseModel)
_PROBLEM = TypeAdapter(dict[str, Any])


class DraftApiClient:
    """The draft API's endpoints as async methods returning its pydantic models.

    Args:
        base_url: Where the API is served, e.g. ``http://127.0.0.1:8000``.
        api_key: The bearer key (``DRAFTS_API_KEY`` of the service); empty sends none.
        http_client: An ``httpx.AsyncClient`` to send through (its owner closes it); one is
            made (and closed by :meth:`aclose`) when omitted.
        job_events: Where :meth:`job_events` reads from; the API's
            ``GET /jobs/{job_id}/events`` Server-Sent Events when omitted.
        timeout: Seconds per request (the event stream waits longer between events).
    """

    def __init__(
        self,
        base_url: str,
        api_key: str = "",
        *,
        http_client: httpx.AsyncClient | None = None,
        job_events: JobEventSource | None = None,
        timeout: float = 30.0,
    ) -> None:
        self._owns = http_client is None
        self._http = http_client or httpx.AsyncClient(timeout=timeout)
        self._base = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._events = job_events or self._sse_events

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP client if this client made it."""
        if self._owns:
            await self._http.aclose()

    async def send_messages(self, body: SendMessagesRequest) -> AcceptedResponse:
        """``POST /send-messages/``: store a thread's new messages; a job drafts the reply."""
        return await self._call("POST", "/send-messages/", AcceptedResponse, json=_dump(body))

    async def process_feedback(self, body: FeedbackRequest) -> AcceptedResponse:
        """``POST /process-feedback/``: a job revises the draft from the feedback."""
        return await self._call("POST", "/process-feedback/", AcceptedResponse, json=_dump(body))

    async def reject(self, body: RejectRequest) -> MessageResponse:
        """``POST /reject-draft/``: reject a draft."""
        return await self._call("POST", "/reject-draft/", MessageResponse, json=_dump(body))

    async def drafts(self, user_id: str) -> DraftListResponse:
        """``GET /draft-messages/``: the user's current drafts."""
        params = {"user_id": user_id}
        return await self._call("GET", "/draft-messages/", DraftListResponse, params=params)

    async def draft(self, user_id: str, draft_message_id: str) -> DraftDetail:
        """``GET /drafts/{id}``: a draft with its revision lineage."""
        path = f"/drafts/{_segment(draft_message_id)}"
        return await self._call("GET", path, DraftDetail, params={"user_id": user_id})

    async def job(self, job_id: str, user_id: str) -> JobView:
        """``GET /jobs/{id}``: a job's state."""
        path = f"/jobs/{_segment(job_id)}"
        return await self._call("GET", path, JobView, params={"user_id": user_id})

    async def retry_job(self, job_id: str, user_id: str) -> JobView:
        """``POST /jobs/{id}/retry``: queue a failed job again."""
        path = f"/jobs/{_segment(job_id)}/retry"
        return await self._call("POST", path, JobView, params={"user_id": user_id})

    def job_events(self, job_id: str, user_id: str) -> AsyncGenerator[JobEvent, None]:
        """The job's events (``state`` changes, text ``delta``\\ s) until a final state."""
        return self._events(job_id, user_id)

    async def _sse_events(self, job_id: str, user_id: str) -> AsyncGenerator[JobEvent, None]:
        url = f"{self._base}/jobs/{_segment(job_id)}/events"
        # The API pings every 15 s, so a longer read timeout only fires on a dead connection.
        timeout = httpx.Timeout(30.0, read=60.0)
        try:
            async with self._http.stream(
                "GET", url, params={"user_id": user_id}, headers=self._headers, timeout=timeout
            ) as response:
                if response.status_code >= 400:
                    await response.aread()
                    raise _error(response)
                async for event in _parse_sse(response.aiter_lines()):
                    yield event
        except httpx.HTTPError as exc:
            raise _unreachable(exc, url) from exc

    async def _call(self, method: str, path: str, model: type[_M], **kwargs: Any) -> _M:
        url = f"{self._base}{path}"
        try:
            response = await self._http.request(method, url, headers=self._headers, **kwargs)
        except httpx.HTTPError as exc:
            raise _unreachable(exc, url) from exc
        if response.status_code >= 400:
            raise _error(response)
        try:
            return model.model_validate_json(response.content)
        except PydanticValidationError as exc:
            detail = f"{method} {path} answered {response.status_code} with a body that is not a "
            detail += f"{model.__name__}: {exc.errors()[0]['msg']}"
            problem: dict[str, object] = {
                "title": "Bad Gateway",
                "status": 502,
                "detail": detail,
            }
            raise DraftApiError(detail, problem=problem, status_code=502) from exc


def _dump(body: BaseModel) -> Any:
    return body.model_dump(mode="json", exclude_none=True)


def _segment(value: str) -> str:
    return quote(value, safe="")


def _error(response: httpx.Response) -> DraftApiError:
    """The API's error answer as an exception carrying its problem details."""
    try:
        problem = _PROBLEM.validate_json(response.content)
    except PydanticValidationError:
        problem = {"title": response.reason_phrase, "detail": response.text[:500]}
    problem.setdefault("status", response.status_code)
    detail = problem.get("detail") or problem.get("title") or response.reason_phrase
    message = f"{response.request.method} {response.request.url.path} answered "
    message += f"{response.status_code}: {detail}"
    return DraftApiError(message, problem=problem, status_code=response.status_code)


def _unreachable(exc: httpx.HTTPError, url: str) -> DraftApiError:
    detail = f"could not reach the draft API at {url}: {type(exc).__name__}: {exc}"
    problem: dict[str, object] = {"title": "Draft API unreachable", "detail": detail}
    return DraftApiError(detail, problem=problem)


async def _parse_sse(lines: AsyncIterator[str]) -> AsyncIterator[JobEvent]:
    """Server-Sent Events (``event:`` and ``data:`` lines, a blank line ends one) as
    ``(type, payload)``; comments (pings) and events without data are skipped."""
    event_type, data = "message", list[str]()
    async for line in lines:
        if not line:
            if data:
                yield event_type, json.loads("\n".join(data))
            event_type, data = "message", []
        elif line.startswith(":"):
            continue
        else:
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "event":
                event_type = value
            elif field == "data":
                data.append(value)
    if data:
        yield event_type, json.loads("\n".join(data))
