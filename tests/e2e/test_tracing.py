"""One trace across processes: draft request to saved draft, task completion to webhook POST.

The stack runs in services mode (separate delivery and draft worker processes) with
``OTEL_EXPORTER_OTLP_ENDPOINT`` pointing at a local OTLP/HTTP collector; the flows run once per
module and each test reads the collected spans.
"""

from __future__ import annotations

import urllib.parse
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
import redis

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

_SERVER, _CLIENT = 2, 3  # opentelemetry.proto SpanKind values
REPORT = "POST /api/workers/report"  # the worker's batched complete/fail reports


@dataclass
class TracedRun:
    """What the flows did and every span the processes exported."""

    spans: list[dict[str, Any]]
    task_ids: list[str]
    receiver_url: str
    llm_url: str
    log_lines: list[str]

    def trace_of(self, name: str, **attrs: Any) -> str:
        """The trace id of the one server span called ``name`` (with ``attrs`` if given)."""
        found = [
            s
            for s in self.spans
            if s["name"] == name
            and s["kind"] == _SERVER
            and all(s["attributes"].get(k) == v for k, v in attrs.items())
        ]
        assert found, f"no server span {name!r}; got {sorted({s['name'] for s in self.spans})}"
        return str(found[0]["trace_id"])

    def in_trace(self, trace_id: str) -> list[dict[str, Any]]:
        """The spans of one trace."""
        return [s for s in self.spans if s["trace_id"] == trace_id]


def _url(span: dict[str, Any]) -> str:
    attrs = span["attributes"]
    return str(attrs.get("url.full") or attrs.get("http.url") or "")


@pytest.fixture(scope="module")
def traced(
    redis_service: Any,
    postgres_service: Any,
    tmp_path_factory: pytest.TempPathFactory,
    kit: Any,
) -> Iterator[TracedRun]:
    """Run the task and draft flows once on a traced services-mode stack."""
    conftest = kit

    db = f"t{uuid.uuid4().hex[:12]}"
    prefix = f"{db}:"
    parts = urllib.parse.urlsplit(postgres_service.url)
    admin = urllib.parse.urlunsplit(("postgresql", parts.netloc, "/postgres", "", ""))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{db}"')
    collector, llm, receiver = conftest.Collector(), conftest.FakeLLM(), conftest.Receiver()
    stack = conftest.Stack(
        tmp_path_factory.mktemp("traced"),
        conftest.clean_env(
            REDIS_URL=redis_service.url,
            DATABASE_URL=urllib.parse.urlunsplit(("postgresql", parts.netloc, f"/{db}", "", "")),
            TASKQUEUE_REDIS_KEY_PREFIX=f"{prefix}tq:",
            DRAFTS_STREAM=f"{prefix}drafts:jobs",
            OTEL_EXPORTER_OTLP_ENDPOINT=collector.endpoint,
            OTEL_BSP_SCHEDULE_DELAY="200",
            **llm.env(),
        ),
    )
    drafts: Any = None
    try:
        stack.start()
        task_ids = conftest.run_task_flow(stack, receiver)
        drafts = conftest.Drafts(stack)
        job = drafts.accepted("/send-messages/", conftest.thread_body("ana", "w", ("m1", "Sat?")))
        drafts.job_done(job)
        stack.stop()  # the processes flush their span batches on the way out
        yield TracedRun(
            list(collector.spans), task_ids, receiver.url, llm.base_url, stack.output_lines()
        )
    finally:
        if drafts is not None:
            drafts.close()
        stack.kill()
        for closing in (collector, llm, receiver):
            closing.close()
        client = redis.Redis.from_url(redis_service.url)
        try:
            keys = list(client.scan_iter(match=f"{prefix}*"))
            if keys:
                client.delete(*keys)
        finally:
            client.close()
        with psycopg.connect(admin, autocommit=True) as conn:
            for name in (db, f"{db}_taskqueue", f"{db}_drafts"):
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_both_apis_export_their_request_spans_to_the_collector(traced: TracedRun) -> None:
    services = {s["service"] for s in traced.spans}
    assert {"taskqueue-server", "draft-service"} <= services
    traced.trace_of("POST /send-messages/")
    traced.trace_of(REPORT)


def test_the_api_logs_of_a_request_carry_its_trace_id(traced: TracedRun) -> None:
    trace_id = traced.trace_of("POST /send-messages/")
    lines = [line for line in traced.log_lines if f"trace_id={trace_id}" in line]
    assert any(line.startswith("draft-api") and "messages_received" in line for line in lines)
    assert any("request finished" in line and "path=/send-messages/" in line for line in lines)


def test_one_trace_runs_from_the_draft_request_to_the_saved_draft(traced: TracedRun) -> None:
    trace = traced.in_trace(traced.trace_of("POST /send-messages/"))
    llm_calls = [s for s in trace if s["kind"] == _CLIENT and _url(s).startswith(traced.llm_url)]
    assert llm_calls, "the LLM call is not in the request's trace"
    assert any("necrostack" in s["scope"] or "necrostack" in s["name"] for s in trace)
    worker_logs = [line for line in traced.log_lines if line.startswith("draft-worker")]
    assert any("job_finished" in line for line in worker_logs)
    assert any(
        "job_finished" in line and f"trace_id={trace[0]['trace_id']}" in line
        for line in worker_logs
    ), "the worker's log lines for the job do not carry the request's trace_id"
    statements = [str(s["attributes"].get("db.statement", "")) for s in trace]
    assert any("INSERT" in stmt.upper() and "draft" in stmt.lower() for stmt in statements), (
        "no SQL span saving the draft in the request's trace"
    )


def test_one_trace_runs_from_task_completion_to_the_webhook_post(traced: TracedRun) -> None:
    # The worker reports finished tasks in batches (one request may complete both tasks):
    # each task.completed webhook POST belongs to the trace of the report that completed it.
    reports = [s for s in traced.spans if s["name"] == REPORT and s["kind"] == _SERVER]
    assert 1 <= len(reports) <= len(traced.task_ids)
    posts = [
        s
        for report in reports
        for s in traced.in_trace(report["trace_id"])
        if s["kind"] == _CLIENT and _url(s) == traced.receiver_url
    ]
    assert len(posts) == len(traced.task_ids), (
        "the webhook POSTs are not in the traces of the reports that completed the tasks"
    )


def test_exporting_logs_raises_no_attribute_type_warnings(traced: TracedRun) -> None:
    assert traced.log_lines
    assert not [line for line in traced.log_lines if "Invalid type" in line]
