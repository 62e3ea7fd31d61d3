"""The async client's worker, project, webhook and stats calls."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from taskqueue import _calls
from taskqueue._async_core import AsyncClientCore
from taskqueue._calls import Id, coerce
from taskqueue.models import (
    ApiKey,
    ApiKeyCreateRequest,
    ApiKeyRole,
    ClaimedTask,
    ClaimRequest,
    FailRequest,
    HeartbeatRequest,
    HeartbeatResponse,
    Project,
    ProjectCreateRequest,
    ProjectList,
    ProjectUpdateRequest,
    ReportRequest,
    ReportResponse,
    ReportResult,
    Stats,
    Task,
    TaskReport,
    TaskResult,
    WebhookCreateRequest,
    WebhookDelivery,
    WebhookDeliveryList,
    WebhookSubscription,
)
from taskqueue.retry import RetryConfig


class AsyncClientExtras(AsyncClientCore):
    """Worker, project, webhook and stats calls; see :class:`AsyncTaskQueueClient`."""

    # --- workers ---------------------------------------------------------------------------

    async def claim_tasks(
        self,
        worker_id: str,
        max_tasks: int = 1,
        lease_seconds: int = 60,
        project_id: Id | None = None,
        *,
        wait: float = 0,
        retry: RetryConfig | None = None,
    ) -> list[ClaimedTask]:
        """Lease up to ``max_tasks`` runnable tasks for this worker (empty when none).

        Args:
            worker_id: This worker's name.
            max_tasks: The most tasks to lease.
            lease_seconds: Lease length without a heartbeat.
            project_id: Only this project's tasks, when set.
            wait: Long poll: when nothing is runnable, let the server hold the request up to
                this many seconds (at most 30) until a task becomes runnable.
            retry: Overrides the client's retry policy for this call.

        Returns:
            The leased tasks, each with the ``lease_token`` its reports must present.
        """
        req = coerce(
            ClaimRequest,
            None,
            worker_id=worker_id,
            max_tasks=max_tasks,
            lease_seconds=lease_seconds,
            project_id=project_id,
            wait=wait,
        )
        return (await self._send(_calls.claim(req), retry)).tasks

    async def heartbeat(
        self,
        task_id: Id,
        worker_id: str,
        lease_seconds: int = 60,
        *,
        lease_token: str,
        retry: RetryConfig | None = None,
    ) -> HeartbeatResponse:
        """Extend the lease on a running task; see ``cancel_requested`` in the answer.

        Raises:
            LeaseLostError: ``lease_token`` is no longer the task's lease.
        """
        req = coerce(
            HeartbeatRequest,
            None,
            worker_id=worker_id,
            lease_token=lease_token,
            lease_seconds=lease_seconds,
        )
        return await self._send(_calls.heartbeat(task_id, req), retry)

    async def complete_task(
        self,
        task_id: Id,
        worker_id: str,
        result: TaskResult,
        *,
        lease_token: str,
        retry: RetryConfig | None = None,
    ) -> Task:
        """Report a successful run (repeating the same report is harmless).

        Raises:
            LeaseLostError: ``lease_token`` is no longer the task's lease.
        """
        return await self._send(_calls.complete(task_id, worker_id, lease_token, result), retry)

    async def report_tasks(
        self,
        worker_id: str,
        reports: Sequence[TaskReport],
        *,
        retry: RetryConfig | None = None,
    ) -> list[ReportResult]:
        """Report several leases at once (complete, fail or release each; at most 100), in
        one request and one transaction; repeating the same reports is harmless.

        Returns:
            One result per report, in order: ``accepted``, or ``lease_lost`` (the token is no
            longer the task's lease: drop the result) or neither (an unknown task).
        """
        req = ReportRequest(worker_id=worker_id, reports=list(reports))
        return (await self._send(_calls.report(req), retry)).results

    async def report_and_claim(
        self,
        worker_id: str,
        reports: Sequence[TaskReport],
        claim: int,
        lease_seconds: int = 60,
        *,
        retry: RetryConfig | None = None,
    ) -> ReportResponse:
        """Report several leases at once (as :meth:`report_tasks`), then lease up to
        ``claim`` runnable tasks (as :meth:`claim_tasks` without waiting), in one request.

        Not repeated by the retry policy when ``claim`` > 0: a repeat would lease more tasks.

        Returns:
            The reports' results (in order) and the leased tasks.
        """
        req = ReportRequest(
            worker_id=worker_id, reports=list(reports), claim=claim, lease_seconds=lease_seconds
        )
        return await self._send(_calls.report(req), retry)

    async def fail_task(
        self,
        task_id: Id,
        worker_id: str,
        result: TaskResult,
        *,
        lease_token: str,
        attempts: int = 1,
        requeue: bool = False,
        retry: RetryConfig | None = None,
    ) -> Task:
        """Report a failed attempt; the server retries it later or fails it
        (``requeue=True`` hands the task back unfinished, not counting the attempt).

        Raises:
            LeaseLostError: ``lease_token`` is no longer the task's lease.
        """
        req = FailRequest(
            worker_id=worker_id,
            lease_token=lease_token,
            result=result,
            attempts=attempts,
            requeue=requeue,
        )
        return await self._send(_calls.fail(task_id, req), retry)

    # --- projects --------------------------------------------------------------------------

    async def create_project(
        self,
        request: ProjectCreateRequest | Mapping[str, Any] | None = None,
        *,
        idempotency_key: str | None = None,
        retry: RetryConfig | None = None,
        **fields: Any,
    ) -> Project:
        """Create a project from a request model, a mapping, or keyword fields."""
        req = coerce(ProjectCreateRequest, request, **fields)
        return await self._send(_calls.create_project(req, idempotency_key), retry)

    async def get_project(self, project_id: Id, *, retry: RetryConfig | None = None) -> Project:
        """Return one project.

        Raises:
            ProjectNotFoundError: when no project has this id.
        """
        return await self._send(_calls.get_project(project_id), retry)

    async def list_projects(
        self, *, limit: int = 100, offset: int = 0, retry: RetryConfig | None = None
    ) -> ProjectList:
        """Return one page of projects."""
        return await self._send(_calls.list_projects(limit, offset), retry)

    async def update_project(
        self,
        project_id: Id,
        update: ProjectUpdateRequest | Mapping[str, Any] | None = None,
        *,
        retry: RetryConfig | None = None,
        **fields: Any,
    ) -> Project:
        """Change the fields given (only those are sent) and return the project."""
        req = coerce(ProjectUpdateRequest, update, **fields)
        return await self._send(_calls.update_project(project_id, req), retry)

    async def delete_project(self, project_id: Id, *, retry: RetryConfig | None = None) -> None:
        """Delete a project."""
        await self._send(_calls.delete_project(project_id), retry)

    # --- webhooks and stats ----------------------------------------------------------------

    async def create_webhook(
        self,
        url: str,
        events: Sequence[str],
        *,
        description: str | None = None,
        secret: str | None = None,
        idempotency_key: str | None = None,
        retry: RetryConfig | None = None,
    ) -> WebhookSubscription:
        """Subscribe ``url`` to ``events``; the answer carries the signing secret (only now)."""
        req = coerce(
            WebhookCreateRequest,
            None,
            url=url,
            events=list(events),
            description=description,
            secret=secret,
        )
        return await self._send(_calls.create_webhook(req, idempotency_key), retry)

    async def list_webhooks(self, *, retry: RetryConfig | None = None) -> list[WebhookSubscription]:
        """Return every webhook subscription."""
        return (await self._send(_calls.list_webhooks(), retry)).webhooks

    async def delete_webhook(self, webhook_id: Id, *, retry: RetryConfig | None = None) -> None:
        """Delete a webhook subscription."""
        await self._send(_calls.delete_webhook(webhook_id), retry)

    async def list_deliveries(
        self,
        webhook_id: Id,
        *,
        limit: int = 100,
        offset: int = 0,
        retry: RetryConfig | None = None,
    ) -> WebhookDeliveryList:
        """Return one page of a subscription's deliveries, newest first."""
        return await self._send(_calls.list_deliveries(webhook_id, limit, offset), retry)

    async def redeliver(
        self, webhook_id: Id, delivery_id: Id, *, retry: RetryConfig | None = None
    ) -> WebhookDelivery:
        """Send a delivery again (same ``webhook-id``, so receivers can dedupe)."""
        return await self._send(_calls.redeliver(webhook_id, delivery_id), retry)

    async def get_stats(self, *, retry: RetryConfig | None = None) -> Stats:
        """Return counts across the queue."""
        return await self._send(_calls.stats(), retry)

    # --- API keys (admin) ------------------------------------------------------------------

    async def create_api_key(
        self,
        name: str,
        role: ApiKeyRole | str = ApiKeyRole.PRODUCER,
        *,
        projects: Sequence[Id] | None = None,
        idempotency_key: str | None = None,
        retry: RetryConfig | None = None,
    ) -> ApiKey:
        """Create a key in the caller's tenant (admin); ``key`` is set only in this answer."""
        req = coerce(
            ApiKeyCreateRequest,
            None,
            name=name,
            role=role,
            projects=None if projects is None else [str(p) for p in projects],
        )
        return await self._send(_calls.create_api_key(req, idempotency_key), retry)

    async def list_api_keys(self, *, retry: RetryConfig | None = None) -> list[ApiKey]:
        """Return the tenant's keys, active and revoked (admin; never their secrets)."""
        return (await self._send(_calls.list_api_keys(), retry)).keys

    async def revoke_api_key(self, key_id: Id, *, retry: RetryConfig | None = None) -> None:
        """Revoke one of the tenant's keys (admin)."""
        await self._send(_calls.revoke_api_key(key_id), retry)
