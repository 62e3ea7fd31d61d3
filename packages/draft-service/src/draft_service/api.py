"""The HTTP API on ``api_core.create_app``: the seed's four endpoints plus jobs and lineage."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import HTTPConnection

from api_core import HealthRegistry, ProblemError, create_app
from api_core.problems import problem_response
from api_core.storable import StorableStr
from draft_service.auth import key_access
from draft_service.errors import ConflictError, NotFoundError, QueueFullError
from draft_service.models import (
    AcceptedResponse,
    DraftDetail,
    DraftListResponse,
    FeedbackRequest,
    JobView,
    MarkSentRequest,
    MessageResponse,
    ProfileIn,
    ProfileView,
    RejectRequest,
    SendMessagesRequest,
    StatusResponse,
)
from draft_service.runtime import Runtime, build_runtime
from draft_service.send_lane import SendLane, check_rate_limit, job_location
from draft_service.service import DraftService
from draft_service.settings import DraftSettings
from draft_service.sse import event_routes
from platform_core.logging import get_logger

__all__ = ["create_draft_app"]

_log = get_logger("draft_service.api")
UserId = Annotated[
    StorableStr, Query(min_length=1, max_length=200, description="The user's id (the owner).")
]
UserPath = Annotated[StorableStr, Path(min_length=1, max_length=200, description="The user's id.")]
JobId = Annotated[StorableStr, Path(min_length=1, max_length=200, description="The job id.")]
DraftId = Annotated[StorableStr, Path(min_length=1, max_length=200, description="The draft's id.")]


async def _service(request: Request) -> DraftService:
    runtime: Runtime = request.app.state.runtime
    return runtime.service


class _ServiceKey(HTTPBearer):
    """The API key check: 401 without a known key, 403 for a write with the read-only key.

    An ``HTTPBearer`` itself, so that it is one dependency (OpenAPI documents it as the
    ``HTTPBearer`` scheme all the same): a check depending on an ``HTTPBearer`` is two, and
    FastAPI resolves each dependency of each request at a cost (about 30 us of CPU each on a
    2-core AMD EPYC, where a whole ``POST /send-messages/`` took about 1.2 ms).
    """

    async def __call__(self, request: HTTPConnection) -> HTTPAuthorizationCredentials | None:
        """Check the request's key; the credentials (``None`` with auth disabled)."""
        creds = await super().__call__(request)
        settings: DraftSettings = request.app.state.settings
        access = key_access(settings, creds.credentials if creds is not None else "")
        if access is None:
            raise ProblemError(
                401,
                "Unauthorized",
                "send the service API key as 'Authorization: Bearer <DRAFTS_API_KEY>'",
            )
        if access == "read" and request.scope.get("method") not in ("GET", "HEAD"):
            raise ProblemError(
                403,
                "Forbidden",
                "this API key is read-only (DRAFTS_READ_ONLY_API_KEY); send DRAFTS_API_KEY to "
                "change drafts",
            )
        return creds


_authorize = _ServiceKey(auto_error=False, scheme_name="HTTPBearer")


async def _limit(request: Request, user_id: str) -> None:
    """Count one write of ``user_id``; 429 with ``Retry-After`` over the per-minute budget."""
    await check_rate_limit(request.app.state.runtime, user_id)


def _not_found(exc: NotFoundError) -> ProblemError:
    return ProblemError(404, "Not Found", str(exc))


def _conflict(exc: ConflictError) -> ProblemError:
    return ProblemError(409, "Conflict", str(exc))


async def _queue_full(request: Request, exc: Exception) -> Response:
    """503 with ``Retry-After`` for work refused before anything was stored."""
    retry_after = exc.retry_after if isinstance(exc, QueueFullError) else 30
    return problem_response(
        request,
        503,
        title="Service Unavailable",
        detail=str(exc),
        headers={"Retry-After": str(retry_after)},
    )


Service = Annotated[DraftService, Depends(_service)]


def _router() -> APIRouter:
    public = APIRouter()
    api = APIRouter(dependencies=[Depends(_authorize)])

    @public.get("/", response_model=StatusResponse)
    async def root() -> StatusResponse:
        """Liveness in the seed's shape."""
        return StatusResponse()

    @api.post("/send-messages/", status_code=202, response_model=AcceptedResponse)
    async def send_messages(
        body: SendMessagesRequest, request: Request, response: Response
    ) -> AcceptedResponse:
        """Store new messages of a thread and draft a reply in the background."""
        await _limit(request, body.user_id)
        # The hottest route: the service without a dependency (see _ServiceKey for its cost).
        runtime: Runtime = request.app.state.runtime
        job_id = await runtime.service.send_messages(body)
        response.headers["Location"] = job_location(job_id, body.user_id)
        return AcceptedResponse(job_id=job_id)

    @api.post("/process-feedback/", status_code=202, response_model=AcceptedResponse)
    async def process_feedback(
        body: FeedbackRequest, request: Request, response: Response, service: Service
    ) -> AcceptedResponse:
        """Revise a draft from feedback in the background; 409 for a closed draft."""
        await _limit(request, body.user_id)
        try:
            job_id = await service.process_feedback(
                body.user_id, body.draft_message_id, body.feedback
            )
        except NotFoundError as exc:
            raise _not_found(exc) from exc
        except ConflictError as exc:
            raise _conflict(exc) from exc
        response.headers["Location"] = job_location(job_id, body.user_id)
        return AcceptedResponse(job_id=job_id)

    @api.post("/reject-draft/", response_model=MessageResponse)
    async def reject_draft(
        body: RejectRequest, request: Request, service: Service
    ) -> MessageResponse:
        """Reject a draft; it leaves the list. Rejecting again is fine."""
        await _limit(request, body.user_id)
        try:
            await service.reject(body.user_id, body.draft_message_id)
        except NotFoundError as exc:
            raise _not_found(exc) from exc
        return MessageResponse(message="Draft rejected")

    @api.post("/mark-sent/", response_model=MessageResponse)
    async def mark_sent(
        body: MarkSentRequest, request: Request, service: Service
    ) -> MessageResponse:
        """Record that a draft was sent; it leaves the list. Marking it again is fine; 409 for
        a rejected or superseded draft."""
        await _limit(request, body.user_id)
        try:
            await service.mark_sent(body.user_id, body.draft_message_id)
        except NotFoundError as exc:
            raise _not_found(exc) from exc
        except ConflictError as exc:
            raise _conflict(exc) from exc
        return MessageResponse(message="Draft marked sent")

    @api.get("/draft-messages/", response_model=DraftListResponse)
    async def draft_messages(user_id: UserId, service: Service) -> DraftListResponse:
        """The user's current drafts: neither rejected nor superseded."""
        return DraftListResponse(draft_messages=await service.current_drafts(user_id))

    @api.get("/drafts/{draft_message_id}", response_model=DraftDetail)
    async def draft_detail(
        draft_message_id: DraftId, user_id: UserId, service: Service
    ) -> DraftDetail:
        """A draft with its revision lineage and each revision's provenance."""
        try:
            return await service.draft_detail(user_id, draft_message_id)
        except NotFoundError as exc:
            raise _not_found(exc) from exc

    @api.get("/jobs/{job_id}", response_model=JobView)
    async def job(job_id: JobId, user_id: UserId, service: Service) -> JobView:
        """A background job's status: queued, running, done, truncated, failed or discarded.

        The ``Location`` of a 202 points here; only the job's owner finds it.
        """
        try:
            return await service.job_view(job_id, user_id)
        except NotFoundError as exc:
            raise _not_found(exc) from exc

    @api.post("/jobs/{job_id}/retry", status_code=202, response_model=JobView)
    async def retry_job(
        job_id: JobId, user_id: UserId, request: Request, response: Response, service: Service
    ) -> JobView:
        """Queue a failed job again; 409 with the reason when it cannot be retried."""
        await _limit(request, user_id)
        try:
            view = await service.retry_job(job_id, user_id)
        except NotFoundError as exc:
            raise _not_found(exc) from exc
        except ConflictError as exc:
            raise _conflict(exc) from exc
        response.headers["Location"] = job_location(job_id, user_id)
        return view

    @api.put("/users/{user_id}/profile", response_model=ProfileView)
    async def put_profile(
        user_id: UserPath, body: ProfileIn, request: Request, service: Service
    ) -> ProfileView:
        """Set how the user's replies are written and signed (used by every later prompt)."""
        await _limit(request, user_id)
        return await service.put_profile(user_id, body)

    @api.get("/users/{user_id}/profile", response_model=ProfileView)
    async def get_profile(user_id: UserPath, service: Service) -> ProfileView:
        """The user's writer profile; 404 until one is set."""
        found = await service.profile(user_id)
        if found is None:
            raise ProblemError(
                404,
                "Not Found",
                f"user {user_id!r} has no profile; set one with PUT /users/{{user_id}}/profile "
                "(without one, prompts describe the writer without naming them)",
            )
        return found

    public.include_router(api)
    public.include_router(event_routes([Depends(_authorize)]))
    return public


def create_draft_app(
    settings: DraftSettings | None = None, *, runtime: Runtime | None = None
) -> FastAPI:
    """Build the draft service's FastAPI app.

    The app builds its :class:`Runtime` at startup (migrating the database when
    ``DRAFTS_AUTO_MIGRATE``) unless one is passed, and closes it at shutdown. Requests get
    OpenTelemetry server spans only with ``DRAFTS_TELEMETRY__ENABLED``.

    Args:
        settings: The settings; read from the environment when omitted.
        runtime: An already built runtime (the caller keeps ownership).

    Raises:
        ConfigurationError: no ``DRAFTS_API_KEY`` and auth not disabled, no
            ``DRAFTS_LLM_API_KEY`` for the openai provider, or a bad setting.
    """
    settings = settings or DraftSettings.load()
    settings.require_auth_config()
    settings.require_llm_config()
    health = HealthRegistry(default_timeout=settings.health.timeout)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        """Build the runtime at startup (unless given) and close it at shutdown."""
        if runtime is not None:
            yield
            return
        rt = await build_runtime(settings)
        app.state.runtime = rt
        health.add("database", rt.check_database)
        health.add("llm", rt.check_llm, required=False)
        try:
            yield
        finally:
            await rt.close()

    app = create_app(
        settings,
        health=health,
        # Without telemetry no span is exported: instrumenting anyway costs each request
        # about a tenth of its CPU for spans and metrics nobody reads.
        instrument=settings.telemetry.enabled,
        routers=[_router()],
        lifespan=lifespan,
        title="draft-service",
        description="Message threads to LLM-drafted replies, with feedback, rejection and lineage.",
    )
    app.add_exception_handler(QueueFullError, _queue_full)
    if not settings.telemetry.enabled:
        # Requests to POST /send-messages/ that will succeed skip FastAPI's machinery.
        app.router.routes.insert(0, SendLane())
    if runtime is not None:
        app.state.runtime = runtime
        health.add("database", runtime.check_database)
        health.add("llm", runtime.check_llm, required=False)
    return app
