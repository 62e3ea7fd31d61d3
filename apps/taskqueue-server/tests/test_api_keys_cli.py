"""``list-api-keys`` and ``revoke-api-key``: no secrets shown; a revoked key is refused by the
running server as soon as the command returns."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import httpx
from click.testing import CliRunner, Result

from taskqueue_server.cli import main as server_cli
from taskqueue_server.db.apikeys import ApiKeyStore, CreatedKey, hash_key
from taskqueue_server.db.engine import create_engine, session_factory
from taskqueue_server.migrate import upgrade

if TYPE_CHECKING:
    from conftest import ServerProcess

Cli = Callable[..., subprocess.CompletedProcess[str]]
# Long enough that a key the server checked just before the revocation would still be trusted
# when the command returns, had the command not waited.
CACHE_SECONDS = 2.0


async def _create_keys(database_url: str, *names: str) -> list[CreatedKey]:
    engine = create_engine(database_url)
    try:
        await upgrade(engine)
        store = ApiKeyStore(session_factory(engine))
        return [await store.create(name) for name in names]
    finally:
        await engine.dispose()


async def test_revoked_key_is_refused_when_the_command_returns(
    make_server: Callable[..., ServerProcess], database_url: str, run_cli: Cli
) -> None:
    server = make_server(database_url, TASKQUEUE_API_KEY_CACHE_SECONDS=str(CACHE_SECONDS))
    ci, ops = await _create_keys(database_url, "ci", "ops")
    statuses: list[int] = []

    async with httpx.AsyncClient(base_url=server.url) as http:

        async def status(key: str) -> int:
            return (await http.get("/api/stats", headers={"X-API-Key": key})).status_code

        async def keep_using(stop: asyncio.Event) -> None:
            # Keeps the key fresh in the server's cache right up to the revocation.
            while not stop.is_set():
                statuses.append(await status(ci.key))
                await asyncio.sleep(0.02)

        stop = asyncio.Event()
        user = asyncio.create_task(keep_using(stop))
        started = time.monotonic()
        by_id = await asyncio.to_thread(run_cli, server.env, "revoke-api-key", str(ci.id), "--json")
        took = time.monotonic() - started
        stop.set()
        await user
        refused = await status(ci.key)
        other = await status(ops.key)

    assert statuses[0] == 200  # the key was in use (and cached) when it was revoked
    assert (refused, other) == (401, 200)
    assert took >= CACHE_SECONDS
    assert by_id.returncode == 0, by_id.stderr
    shown = json.loads(by_id.stdout)
    assert (shown["id"], shown["name"]) == (str(ci.id), "ci")
    assert shown["revoked_at"] is not None


async def test_list_and_revoke_api_keys_never_show_secrets_or_hashes(sqlite_url: str) -> None:
    alpha, beta, gamma = await _create_keys(sqlite_url, "alpha", "beta", "gamma")
    env = {"TASKQUEUE_DATABASE_URL": sqlite_url, "TASKQUEUE_LOG_LEVEL": "ERROR"}

    def cli(*args: str) -> Result:
        return CliRunner().invoke(server_cli, list(args), env=env)

    revoked = await asyncio.to_thread(cli, "revoke-api-key", beta.key.split("_")[1])
    by_prefix = await asyncio.to_thread(cli, "revoke-api-key", f"tq_{gamma.key.split('_')[1]}_")
    again = await asyncio.to_thread(cli, "revoke-api-key", str(beta.id))
    unknown = await asyncio.to_thread(cli, "revoke-api-key", "tq_nosuchkey_")
    listed = await asyncio.to_thread(cli, "list-api-keys", "--json")
    table = await asyncio.to_thread(cli, "list-api-keys")

    outcomes = (revoked, by_prefix, again, unknown, listed, table)
    assert [r.exit_code for r in outcomes] == [0, 0, 0, 1, 0, 0]
    assert f"API key beta ({beta.id}, tq_{beta.key.split('_')[1]}_) revoked at" in revoked.stdout
    assert f"API key gamma ({gamma.id}" in by_prefix.stdout
    assert "was already revoked" in again.stdout
    assert "no API key has the id or prefix 'tq_nosuchkey_'" in unknown.output
    keys = json.loads(listed.stdout)
    assert [(k["id"], k["name"]) for k in keys] == [
        (str(made.id), made.name) for made in (alpha, beta, gamma)
    ]
    assert [k["revoked_at"] is None for k in keys] == [True, False, False]
    for made, shown in zip((alpha, beta, gamma), keys, strict=True):
        assert made.key.startswith(shown["prefix"])
        assert set(shown) == {
            "id",
            "name",
            "prefix",
            "created_at",
            "revoked_at",
            "tenant",
            "role",
            "projects",
        }
        for output in (listed.stdout, table.stdout, revoked.stdout):
            assert made.key.split("_", 2)[2] not in output  # the secret part
            assert hash_key(made.key) not in output
    assert "alpha" in table.stdout
    assert "beta" in table.stdout
