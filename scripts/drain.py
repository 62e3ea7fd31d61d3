"""How long each of the platform's processes may take to stop after SIGTERM.

``make deploy-check`` compares these with the grace periods of the compose file
(``stop_grace_period``) and the Kubernetes manifests (``terminationGracePeriodSeconds``). The
figures follow the code: read the docstrings' references before changing one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

__all__ = ["MARGIN_SECONDS", "drain_seconds"]

MARGIN_SECONDS = 5.0
"""Slack on top of a drain: connection close-down, the last log lines, telemetry flush."""

# taskqueue.worker: once --shutdown-timeout is over, a command still running gets SIGTERM then
# SIGKILL (_ABORT_KILL_WAIT, 0.5 s apart) and its task is handed back (a few report tries 0.2,
# 0.4 and 0.8 s apart); then the watchdog is stopped. 10 s covers those.
_TASK_STOP_SECONDS = 10.0
# taskqueue_server.cli.serve: uvicorn.Config(timeout_graceful_shutdown=10).
_TASKQUEUE_API_GRACEFUL = 10.0


def _option(command: Sequence[str], name: str, default: float) -> float:
    """The value of ``--name VALUE`` or ``--name=VALUE`` in ``command``, else ``default``."""
    for i, arg in enumerate(command):
        if arg == name and i + 1 < len(command):
            return float(command[i + 1])
        if arg.startswith(name + "="):
            return float(arg.split("=", 1)[1])
    return default


def _draft_job_seconds(env: Mapping[str, str]) -> float:
    """The longest a draft job spends on the LLM: its total deadline.

    ``draft_service.drafting.Drafter.draft`` fixes the job's end ``DRAFTS_LLM_DEADLINE`` seconds
    after it starts, and ``draft_service.llm.retry.with_retries`` cuts every attempt and every
    wait (backoff or ``Retry-After``) to what is left of it, whatever the attempt count,
    per-attempt timeout or backoffs. The default is that of ``DraftSettings``.
    """
    return float(env.get("DRAFTS_LLM_DEADLINE", "120"))


def drain_seconds(command: Sequence[str], env: Mapping[str, str]) -> tuple[float, str] | None:
    """Seconds the process started by ``command`` may need to stop, and why; None if unknown.

    Args:
        command: The container's command and arguments.
        env: Its environment (ConfigMap values and literal ``env`` entries).
    """
    words = [w for w in command if not w.startswith("-")]
    head = tuple(words[:2])
    if head == ("taskqueue-server", "serve"):
        return _TASKQUEUE_API_GRACEFUL, "uvicorn's graceful shutdown (10 s)"
    if head == ("taskqueue-server", "deliver"):
        timeout = float(env.get("TASKQUEUE_WEBHOOK_TIMEOUT", "10"))
        return timeout, f"a webhook send in flight (TASKQUEUE_WEBHOOK_TIMEOUT={timeout:g})"
    if head[:1] == ("draft-api",):
        graceful = float(env.get("DRAFT_API_GRACEFUL_TIMEOUT", "20"))
        return graceful, f"requests in flight (DRAFT_API_GRACEFUL_TIMEOUT={graceful:g})"
    if head == ("draft-service", "worker"):
        seconds = _draft_job_seconds(env)
        return seconds, f"the draft job in hand (DRAFTS_LLM_DEADLINE={seconds:g})"
    if command[:1] == ["taskqueue"] and "worker" in command:
        grace = _option(command, "--shutdown-timeout", _option(command, "--grace-period", 30.0))
        return (
            grace + _TASK_STOP_SECONDS,
            f"--shutdown-timeout {grace:g} + 10 s to stop and hand back",
        )
    return None
