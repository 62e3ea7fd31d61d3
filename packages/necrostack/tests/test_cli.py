"""The ``necrostack`` command, through click's runner, on real Redis."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from typing import ClassVar

import pytest
from click.testing import CliRunner

from necrostack import Event, Organ, Spine
from necrostack.backends.redis import RedisBackend
from necrostack.cli import main
from platform_core.redis import RedisSettings


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """The CLI installs a log handler on the runner's stream; remove it afterwards."""
    root = logging.getLogger()
    before = list(root.handlers)
    level = root.level
    yield
    root.handlers[:] = before
    root.setLevel(level)


@pytest.fixture
def cli(redis_url: str, redis_key_prefix: str) -> CliRunner:
    return CliRunner(env={"REDIS_URL": redis_url, "NECROSTACK_STREAM": f"{redis_key_prefix}cli"})


def test_run_seance_in_memory_prints_the_omen(cli: CliRunner) -> None:
    result = cli.invoke(main, ["run", "seance"])
    assert result.exit_code == 0, result.output
    assert "Madame Ossuary answers 'Who is there?'" in result.output
    assert "Omen:" in result.output


def test_run_etl_on_redis_as_json(cli: CliRunner) -> None:
    result = cli.invoke(main, ["run", "etl", "--backend", "redis", "--until-idle", "0.3", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["rows"] == 4
    assert summary["stats"]["age"]["count"] == 4


class AlwaysFails(Organ):
    listens_to: ClassVar[list[str]] = ["DOOMED"]

    def handle(self, event: Event) -> None:
        raise RuntimeError("the spirit will not rest")


async def _dead_letter_one(redis_url: str, stream: str) -> Event:
    backend = RedisBackend(
        redis_settings=RedisSettings(url=redis_url), stream=stream, max_deliveries=1
    )
    doomed = Event(event_type="DOOMED", payload={"n": 1})
    try:
        await Spine([AlwaysFails()], backend, poll_timeout=0.05).run(doomed, until_idle=0.2)
    finally:
        await backend.close()
    return doomed


def test_dlq_list_replay_purge_and_stats(
    cli: CliRunner, redis_url: str, redis_key_prefix: str
) -> None:
    stream = f"{redis_key_prefix}cli"
    doomed = asyncio.run(_dead_letter_one(redis_url, stream))

    listed = cli.invoke(main, ["dlq", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    entries = json.loads(listed.stdout)
    assert len(entries) == 1
    assert entries[0]["reason"] == "max deliveries reached"
    assert "the spirit will not rest" in entries[0]["error"]
    assert Event.model_validate_json(entries[0]["event"]) == doomed

    stats = json.loads(cli.invoke(main, ["stats", "--json"]).stdout)
    assert stats["dead_letters"] == 1
    assert stats["pending"] == 0
    assert len(stats["consumers"]) == 1

    replayed = cli.invoke(main, ["dlq", "replay", entries[0]["id"]])
    assert replayed.exit_code == 0, replayed.output
    assert "replayed 1" in replayed.output
    stats = json.loads(cli.invoke(main, ["stats", "--json"]).stdout)
    assert stats["dead_letters"] == 0
    assert stats["lag"] == 1  # back on the stream, waiting for a worker

    asyncio.run(_dead_letter_one(redis_url, stream))  # handles the replay: dead again, + 1
    purged = cli.invoke(main, ["dlq", "purge", "--yes"])
    assert purged.exit_code == 0, purged.output
    assert "purged 2" in purged.output
    assert json.loads(cli.invoke(main, ["dlq", "list", "--json"]).stdout) == []


def test_stats_table(cli: CliRunner) -> None:
    cli.invoke(main, ["run", "seance", "--backend", "redis", "--until-idle", "0.2"])
    result = cli.invoke(main, ["stats"])
    assert result.exit_code == 0, result.output
    assert "length" in result.output
    assert "dead letters" in result.output


def test_usage_errors_exit_2(cli: CliRunner) -> None:
    assert cli.invoke(main, ["run", "ouija"]).exit_code == 2
    assert cli.invoke(main, ["dlq", "replay"]).exit_code == 2


def test_unreachable_redis_exits_1_with_the_reason() -> None:
    runner = CliRunner(env={"REDIS_URL": "redis://127.0.0.1:1/0", "REDIS_RETRY_ATTEMPTS": "0"})
    result = runner.invoke(main, ["stats"])
    assert result.exit_code == 1
    assert "redis unavailable" in result.output
    assert "REDIS_URL" in result.output
