"""``make run`` with ``REDIS_URL`` and ``DATABASE_URL``: PostgreSQL, Redis and separate workers."""

from __future__ import annotations

import signal
import sys
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


def _derived_db(postgres_url: str, suffix: str) -> str:
    """The database the launcher creates for one app next to ``DATABASE_URL``'s."""
    parts = urllib.parse.urlsplit(postgres_url)
    return f"{parts.path.lstrip('/')}_{suffix}"


@pytest.fixture
def services_env(
    postgres_url: str, redis_url: str, redis_key_prefix: str
) -> Iterator[dict[str, str]]:
    """Services-mode settings, with every Redis key under the test's prefix.

    The two databases the launcher creates are dropped afterwards.
    """
    yield {
        "REDIS_URL": redis_url,
        "DATABASE_URL": postgres_url,
        "TASKQUEUE_REDIS_KEY_PREFIX": f"{redis_key_prefix}tq:",
        "DRAFTS_STREAM": f"{redis_key_prefix}drafts:jobs",
    }
    parts = urllib.parse.urlsplit(postgres_url)
    admin = urllib.parse.urlunsplit(("postgresql", parts.netloc, "/postgres", "", ""))
    with psycopg.connect(admin, autocommit=True) as conn:
        for suffix in ("taskqueue", "drafts"):
            name = _derived_db(postgres_url, suffix)
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_services_mode_runs_the_flows_and_a_killed_draft_worker_loses_nothing(
    tmp_path: Path,
    services_env: dict[str, str],
    postgres_url: str,
    held_llm: Any,
    stack_factory: Any,
    receiver: Any,
    drafts_for: Any,
    task_flow: Any,
    make_thread: Any,
    kit: Any,
) -> None:
    # No draft worker from the launcher: this test runs its own, to kill one mid-job.
    stack = stack_factory(
        tmp_path / "data",
        STACK_DRAFT_WORKERS="0",
        DRAFTS_JOB_CLAIM_IDLE_MS="1000",
        **services_env,
        **held_llm.env(),
    )
    banner = "\n".join(stack.output_lines())
    assert "services mode" in banner
    # The delivery worker starts beside the APIs and logs once it has migrated and connected;
    # that can come after the banner.
    deadline = time.monotonic() + 60
    while not any(line.startswith("webhook-delivery") for line in stack.output_lines()):
        assert time.monotonic() < deadline, "the webhook-delivery process printed nothing"
        time.sleep(0.2)

    # Tasks: the separate `taskqueue-server deliver` process sends the webhooks.
    task_flow(stack, receiver)

    parts = urllib.parse.urlsplit(postgres_url)
    drafts_db = _derived_db(postgres_url, "drafts")
    worker_env = {
        **kit.clean_env(),
        "DRAFTS_DATABASE_URL": f"postgresql+asyncpg://{parts.netloc}/{drafts_db}",
        "DRAFTS_REDIS_URL": services_env["REDIS_URL"],
        "DRAFTS_STREAM": services_env["DRAFTS_STREAM"],
        "DRAFTS_JOB_CLAIM_IDLE_MS": "1000",
        "DRAFTS_LOG_FORMAT": "console",
        **held_llm.env(),
    }
    draft_service = str(Path(sys.executable).with_name("draft-service"))
    first = stack.spawn("draft-worker-a", [draft_service, "worker", "--name", "a"], worker_env)

    drafts = drafts_for(stack)
    job = drafts.accepted("/send-messages/", make_thread("kim", "trip", ("t1", "Train at 9?")))
    stack.eventually(held_llm.first_call.is_set, 60, "worker a to call the LLM")
    first.send_signal(signal.SIGKILL)  # mid-job: the LLM call is in flight
    first.wait()
    stack.spawn("draft-worker-b", [draft_service, "worker", "--name", "b"], worker_env)
    held_llm.release.set()

    done = drafts.job_done(job, timeout=90)
    assert held_llm.calls >= 2  # the job really ran again on worker b
    [listed] = drafts.listed("kim")
    assert listed["draft_message_id"] == done["draft_message_id"]
    assert len(drafts.detail("kim", listed["draft_message_id"])["revisions"]) == 1

    # The rest of the draft flow on the surviving worker.
    drafts.full_flow("ana")
    stack.stop()
