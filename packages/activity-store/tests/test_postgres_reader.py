"""The PostgreSQL backend's own connection for single-row reads: timeouts and recovery."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from activity_store import ActivityStoreError
from activity_store.backends.postgres import PostgresBackend
from activity_store.ld import ensure_context, partial_member

NOTE = ensure_context({"id": "https://example.org/n/1", "type": "Note", "name": "one"})
OUTBOX = "https://example.org/outbox"


@pytest.fixture
async def backend(postgres_url: str) -> AsyncIterator[PostgresBackend]:
    backend = PostgresBackend(postgres_url, namespace="reader", command_timeout=0.5)
    await backend.setup()
    await backend.put(NOTE)
    await backend.add_member(OUTBOX, partial_member(NOTE), NOTE)
    yield backend
    await backend.teardown(delete_data=True)


async def test_a_read_blocked_past_the_timeout_fails_and_the_next_read_works(
    backend: PostgresBackend, postgres_url: str
) -> None:
    assert await backend.get(NOTE["id"]) == NOTE
    locker = await asyncpg.connect(postgres_url)
    try:
        transaction = locker.transaction()
        await transaction.start()
        await locker.execute('LOCK TABLE "reader".objects IN ACCESS EXCLUSIVE MODE')
        # The server cancels the statement (statement_timeout on the reads' connection).
        with pytest.raises(ActivityStoreError, match="statement timeout") as info:
            await backend.get(NOTE["id"])
        assert isinstance(info.value.__cause__, asyncpg.QueryCanceledError)
        await transaction.rollback()
    finally:
        await locker.close()
    assert await backend.get(NOTE["id"]) == NOTE  # on a new connection
    assert await backend.get_member(OUTBOX, NOTE["id"]) == partial_member(NOTE)


class _Relay:
    """A TCP relay in front of PostgreSQL that can stop passing bytes (a silent network)."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.silent = False
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _serve(self, client_r: Any, client_w: Any) -> None:
        server_r, server_w = await asyncio.open_connection(*self.target)

        async def pump(reader: Any, writer: Any) -> None:
            with contextlib.suppress(ConnectionError):  # either side hung up: relay ends
                while data := await reader.read(65536):
                    if not self.silent:
                        writer.write(data)
                        await writer.drain()
            writer.close()

        await asyncio.gather(pump(client_r, server_w), pump(server_r, client_w))

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()


async def test_a_silent_server_is_given_up_and_reading_resumes(postgres_url: str) -> None:
    parts = urlsplit(postgres_url)
    relay = _Relay(parts.hostname or "127.0.0.1", parts.port or 5432)
    await relay.start()
    user = f"{parts.username}@" if parts.username else ""
    netloc = f"{user}127.0.0.1:{relay.port}"
    url = urlunsplit(parts._replace(netloc=netloc))
    backend = PostgresBackend(url, namespace="silent", command_timeout=0.3)
    try:
        await backend.setup()
        await backend.put(NOTE)
        assert await backend.get(NOTE["id"]) == NOTE
        relay.silent = True
        # No answer ever comes: the watchdog ends the read instead of waiting on TCP. (The
        # 60 s bound only turns a regression into a failure instead of a hung test run.)
        with pytest.raises(ActivityStoreError, match="PostgreSQL unreachable") as info:
            await asyncio.wait_for(backend.get(NOTE["id"]), 60)
        assert isinstance(info.value.__cause__, asyncpg.ConnectionDoesNotExistError)
        relay.silent = False
        assert await backend.get(NOTE["id"]) == NOTE
    finally:
        relay.silent = False
        await backend.teardown(delete_data=True)
        await relay.stop()
