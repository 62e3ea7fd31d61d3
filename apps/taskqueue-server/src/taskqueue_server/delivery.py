"""Webhook delivery: an organ that turns events into delivery rows, and the sender.

Every event becomes one delivery row per matching subscription (so retries survive a
restart); :class:`DeliverySender` POSTs due deliveries signed with the Standard Webhooks
headers, records each attempt, retries with jittered exponential backoff until the retry
horizon, and disables a subscription that answers 410 Gone.
"""

from __future__ import annotations

import asyncio
import random
import time
from datetime import timedelta

import httpx

from api_core.telemetry import inject_trace_context, use_trace_context
from necrostack import Event, Organ
from platform_core.logging import get_logger
from taskqueue.models import WebhookEvent
from taskqueue.webhooks import webhook_headers
from taskqueue_server.db.schema import DeliveryRow, WebhookRow, utcnow
from taskqueue_server.db.tenancy import DEFAULT_TENANT
from taskqueue_server.db.webhooks import WebhookStore
from taskqueue_server.errors import UnsafeWebhookURLError
from taskqueue_server.events import EVENT_TYPES
from taskqueue_server.settings import ServerSettings
from taskqueue_server.ssrf import Resolver, resolve_webhook_target

__all__ = ["DeliverySender", "WebhookFanout", "backoff_delay"]

_log = get_logger(__name__)


def backoff_delay(attempt: int, base: float, cap: float) -> float:
    """Seconds to wait before attempt ``attempt + 1``: exponential, capped, full jitter in
    the upper half so retries of many deliveries spread out."""
    ceiling = min(cap, base * 2.0 ** max(attempt - 1, 0))
    return ceiling * (0.5 + random.random() / 2)


class WebhookFanout(Organ):
    """Queues one delivery per subscription that wants the event's type.

    Args:
        store: The webhook store.
    """

    listens_to = EVENT_TYPES

    def __init__(self, store: WebhookStore) -> None:
        super().__init__()
        self._store = store

    async def handle(self, event: Event) -> None:
        """Create the delivery rows for ``event``."""
        # Events published before tenants existed belong to the default tenant.
        tenant = str(event.payload.get("tenant") or DEFAULT_TENANT)
        if not await self._store.subscribers(event.event_type, tenant):
            return  # nobody subscribed (the common case): no body to build
        body = WebhookEvent.model_validate(
            {"type": event.event_type, "timestamp": event.timestamp, "data": event.payload["data"]}
        ).model_dump_json()
        # The current span is necrostack's handle span when tracing is on.
        context = inject_trace_context({})
        queued = await self._store.enqueue(
            f"msg_{event.id}",
            event.event_type,
            body,
            tenant=tenant,
            traceparent=context.get("traceparent"),
        )
        _log.debug("deliveries queued", event_type=event.event_type, count=queued)


class DeliverySender:
    """Sends due deliveries until stopped.

    Args:
        store: The webhook store.
        settings: Timeouts, backoff and the SSRF setting.
        client: The HTTP client (one is created when omitted).
        resolve: Resolves webhook hosts (the system resolver when omitted).
    """

    def __init__(
        self,
        store: WebhookStore,
        settings: ServerSettings,
        client: httpx.AsyncClient | None = None,
        *,
        resolve: Resolver | None = None,
    ) -> None:
        self._store = store
        self._settings = settings
        self._resolve = resolve
        self._client = client or httpx.AsyncClient(
            timeout=settings.webhook_timeout, follow_redirects=False
        )
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        """Ask :meth:`run` to return once the sends in flight are done."""
        self._stopping.set()

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._client.aclose()

    async def run(self) -> None:
        """Send due deliveries until :meth:`stop`, up to ``webhook_concurrency`` at once.

        Each delivery is its own task: a slow receiver holds one slot for at most
        ``webhook_timeout`` and never delays the deliveries of other subscriptions. A send that
        is cut short (the process stops) keeps its lease, which expires, so the delivery is
        attempted again later.
        """
        limit = self._settings.webhook_concurrency
        in_flight: set[asyncio.Task[None]] = set()
        stopping = asyncio.ensure_future(self._stopping.wait())
        try:
            while not self._stopping.is_set():
                free = limit - len(in_flight)
                taken = await self._take(free) if free > 0 else []
                for delivery, hook in taken:
                    task = asyncio.create_task(self._send_logged(delivery, hook))
                    in_flight.add(task)
                    task.add_done_callback(in_flight.discard)
                if taken and len(taken) == free:
                    # Every slot is busy: go on when one frees up (more may be due).
                    await asyncio.wait({*in_flight, stopping}, return_when=asyncio.FIRST_COMPLETED)
                elif not taken:
                    await asyncio.wait({stopping}, timeout=self._settings.delivery_poll_interval)
            if in_flight:
                await asyncio.wait(in_flight)
        finally:
            stopping.cancel()
            for task in in_flight:
                task.cancel()
            if in_flight:
                # Let the cut-short sends unwind (their database sessions roll back and give
                # their connections back) before the caller disposes of the engine: a send
                # left running past that point never finishes closing its connection.
                await asyncio.wait(in_flight, timeout=self._settings.webhook_timeout)

    async def _take(self, limit: int) -> list[tuple[DeliveryRow, WebhookRow]]:
        try:
            return await self._store.take_due(
                limit, lease_seconds=self._settings.webhook_timeout * 3
            )
        except Exception:  # a database hiccup must not end delivery; retry next tick
            _log.exception("delivery scan failed")
            return []

    async def _send_logged(self, delivery: DeliveryRow, hook: WebhookRow) -> None:
        try:
            await self._send(delivery, hook)
        except Exception:  # recording the attempt failed; the lease expires and it is retried
            _log.exception("webhook attempt not recorded", delivery_id=str(delivery.id))

    async def send_due(self, limit: int = 50) -> int:
        """Send every due delivery once; returns how many were attempted."""
        due = await self._store.take_due(limit, lease_seconds=self._settings.webhook_timeout * 3)
        if due:
            await asyncio.gather(*(self._send(d, h) for d, h in due))
        return len(due)

    async def _send(self, delivery: DeliveryRow, hook: WebhookRow) -> None:
        started = time.perf_counter()
        status: int | None = None
        error: str | None = None
        refused = False
        try:
            # Resolve once, check every address, connect to the checked one (no rebinding).
            target = await resolve_webhook_target(
                hook.url,
                allow_private=self._settings.webhook_allow_private,
                resolve=self._resolve,
            )
            headers = webhook_headers(hook.secret, delivery.payload, msg_id=delivery.event_id)
            headers["content-type"] = "application/json"
            headers["user-agent"] = "taskqueue-server"
            headers["host"] = target.host_header
            extensions = {"sni_hostname": target.server_name} if target.server_name else {}
            trace_context = {"traceparent": delivery.traceparent} if delivery.traceparent else {}
            with use_trace_context(trace_context):  # the POST joins the event's trace
                response = await self._client.post(
                    target.url,
                    content=delivery.payload.encode(),
                    headers=headers,
                    extensions=extensions,
                )
            status = response.status_code
            if not 200 <= status < 300:
                error = f"receiver answered {status}"
        except UnsafeWebhookURLError as exc:
            error, refused = str(exc), True
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        duration_ms = (time.perf_counter() - started) * 1000
        await self._record(delivery, hook, status, error, duration_ms, refused=refused)

    async def _record(
        self,
        delivery: DeliveryRow,
        hook: WebhookRow,
        status: int | None,
        error: str | None,
        duration_ms: float,
        *,
        refused: bool,
    ) -> None:
        attempt = delivery.attempts + 1
        if error is None:
            outcome, next_at, disable = "succeeded", None, None
        elif status == 410:
            outcome, next_at = "failed", None
            disable = "receiver answered 410 Gone; create the subscription again to resume"
        elif refused:  # the SSRF guard said no: retrying cannot help
            outcome, next_at, disable = "failed", None, None
        else:
            delay = backoff_delay(
                attempt, self._settings.webhook_backoff_base, self._settings.webhook_backoff_cap
            )
            next_at = utcnow() + timedelta(seconds=delay)
            horizon = delivery.created_at + timedelta(seconds=self._settings.webhook_retry_horizon)
            outcome, disable = ("pending", None) if next_at <= horizon else ("failed", None)
            if outcome == "failed":
                next_at = None
        await self._store.record_attempt(
            delivery.id,
            status_code=status,
            error=error,
            duration_ms=duration_ms,
            outcome=outcome,
            next_attempt_at=next_at,
            disable_reason=disable,
        )
        _log.info(
            "webhook attempt",
            webhook_id=str(hook.id),
            delivery_id=str(delivery.id),
            event_type=delivery.event_type,
            attempt=attempt,
            status_code=status,
            outcome=outcome,
            error=error,
        )
