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


def test_the_task_worker_drain_is_its_grace_period_plus_the_kill_waits() -> None:
    from taskqueue import worker as worker_module
    from taskqueue.worker import WorkerConfig

    # _kill sends SIGTERM then SIGKILL to the command's group, waiting this long after each.
    kill_wait = inspect.getsource(worker_module).split("_KILL_WAIT = ", 1)[1].split("\n", 1)[0]
    default = WorkerConfig(worker_id="w").grace_period
    assert drain_seconds(["taskqueue", "worker"], {}) == (
        default + 2 * float(kill_wait),
        f"--grace-period {default:g} + 10 s to stop and hand back",
    )
    assert drain_seconds(["taskqueue", "--base-url", "u", "worker", "--grace-period=5"], {}) == (
        15.0,
        "--grace-period 5 + 10 s to stop and hand back",
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


def test_the_draft_worker_drain_is_every_llm_attempt_with_the_widest_backoffs() -> None:
    from draft_service import DraftSettings
    from draft_service.llm import backoff_delay

    s = DraftSettings()
    widest = sum(
        min(s.llm_backoff_cap, s.llm_backoff_base * 2 ** (n - 1))
        for n in range(1, s.llm_max_attempts)
    )
    # backoff_delay never exceeds the ceiling the drain assumes.
    for n in range(1, s.llm_max_attempts):
        ceiling = min(s.llm_backoff_cap, s.llm_backoff_base * 2 ** (n - 1))
        assert all(
            backoff_delay(n, s.llm_backoff_base, s.llm_backoff_cap) <= ceiling for _ in range(50)
        )
    expected = s.llm_max_attempts * s.llm_timeout + widest
    assert _seconds(["draft-service", "worker"], {}) == pytest.approx(expected)


def test_an_unknown_process_has_no_drain() -> None:
    assert drain_seconds(["draft-service", "serve"], {}) is None
