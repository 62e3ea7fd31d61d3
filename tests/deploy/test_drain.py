"""``scripts/drain.py``'s figures follow the code they describe, so a changed default or
shutdown path shows here before a grace period silently falls short."""

from __future__ import annotations

import inspect

import pytest
from drain import drain_seconds


def _seconds(command: list[str], env: dict[str, str]) -> float:
    drain = drain_seconds(command, env)
    assert drain is not None, command
    return drain[0]


def test_the_task_worker_drain_is_its_shutdown_timeout_plus_the_kill_and_hand_back() -> None:
    from taskqueue import worker as worker_module
    from taskqueue.worker import WorkerConfig

    # Once the shutdown timeout is over, a command still running gets SIGTERM then SIGKILL this
    # long apart, and its task is handed back; the drain's 10 s cover both.
    source = inspect.getsource(worker_module)
    kill_wait = float(source.split("_ABORT_KILL_WAIT = ", 1)[1].split("\n", 1)[0])
    assert "kill_wait=_ABORT_KILL_WAIT" in source
    assert kill_wait + 0.2 + 0.4 + 0.8 < 10.0
    default = WorkerConfig(worker_id="w").shutdown_timeout
    assert drain_seconds(["taskqueue", "worker"], {}) == (
        default + 10.0,
        f"--shutdown-timeout {default:g} + 10 s to stop and hand back",
    )
    command = ["taskqueue", "--base-url", "u", "worker", "--shutdown-timeout=5"]
    assert drain_seconds(command, {}) == (
        15.0,
        "--shutdown-timeout 5 + 10 s to stop and hand back",
    )
    # The old option name is still accepted.
    assert drain_seconds(["taskqueue", "worker", "--grace-period", "7"], {}) == (
        17.0,
        "--shutdown-timeout 7 + 10 s to stop and hand back",
    )


def test_the_api_drains_follow_their_servers_settings() -> None:
    from draft_api.settings import DraftApiSettings
    from taskqueue_server import cli

    assert "timeout_graceful_shutdown=10," in inspect.getsource(cli.serve.callback)
    assert _seconds(["taskqueue-server", "serve", "--port", "8080"], {}) == 10.0
    assert _seconds(["draft-api"], {}) == DraftApiSettings().graceful_timeout
    assert _seconds(["draft-api"], {"DRAFT_API_GRACEFUL_TIMEOUT": "7"}) == 7.0


def test_the_delivery_drain_is_one_webhook_send() -> None:
    from taskqueue_server.settings import ServerSettings

    default = ServerSettings().webhook_timeout
    assert _seconds(["taskqueue-server", "deliver"], {}) == default


def test_the_draft_worker_drain_is_the_llm_deadline() -> None:
    from draft_service import DraftSettings, drafting
    from draft_service.llm import retry

    s = DraftSettings()
    # The job's end is fixed from the deadline, and every attempt and wait is cut to it.
    assert "self.settings.llm_deadline" in inspect.getsource(drafting.Drafter.draft)
    assert "deadline=" in inspect.getsource(drafting.Drafter._call_with_retries)
    assert "loop.time() + delay >= end" in inspect.getsource(retry.with_retries)
    assert _seconds(["draft-service", "worker"], {}) == pytest.approx(s.llm_deadline)
    assert _seconds(["draft-service", "worker"], {"DRAFTS_LLM_DEADLINE": "45"}) == 45.0


def test_an_unknown_process_has_no_drain() -> None:
    assert drain_seconds(["draft-service", "serve"], {}) is None
