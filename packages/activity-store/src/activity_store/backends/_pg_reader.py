"""The PostgreSQL backend's connection for single-row reads (a dereference, a membership).

A dereference is one primary-key lookup, so what the client does around the round trip is
most of what the store adds to it. This connection is the backend's own (not the pool's), the
document ``SELECT`` is prepared on it once, and its statements carry no client-side timer:
the server enforces the timeout (``statement_timeout``), and one watchdog task per connection
ends a read that has waited twice as long (the server or the network is gone). asyncpg's
``command_timeout`` would instead schedule and cancel a timer on the event loop for every
statement, which on a busy machine costs more than the rest of the store's work together.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type information

__all__ = ["Reader"]


class Reader:
    """One connection used by one read at a time; see the module docstring.

    Check :attr:`free` before each read: a busy reader is in use (the caller reads through
    the pool instead) and a broken one (after any failure, cancellation or watchdog stop)
    is never used again (the caller opens a new one).
    """

    def __init__(self, connection: Any, doc_statement: Any, timeout: float) -> None:
        self._connection = connection
        self._doc = doc_statement
        self._limit = 2 * timeout
        self._started = 0.0
        self.busy = False
        self.broken = False
        self._watchdog = asyncio.get_running_loop().create_task(self._watch())

    @classmethod
    async def open(cls, url: str, doc_select: str, statement_timeout: float) -> Reader:
        """Connect to ``url`` and prepare ``doc_select`` (one ``$1`` key parameter).

        Args:
            url: The database's ``postgresql://`` URL.
            doc_select: The statement :meth:`fetch_doc` runs.
            statement_timeout: Seconds a statement may run (enforced by the server).
        """
        milliseconds = max(1, round(statement_timeout * 1000))
        connection = await asyncpg.connect(
            url, server_settings={"statement_timeout": str(milliseconds)}
        )
        try:
            prepared = await connection.prepare(doc_select)
        except BaseException:
            connection.terminate()
            raise
        return cls(connection, prepared, statement_timeout)

    @property
    def free(self) -> bool:
        """Whether a read may use this connection now."""
        return not (self.busy or self.broken)

    async def fetch_doc(self, key: bytes) -> Any:
        """Run the prepared document ``SELECT`` for ``key``; its text, or ``None``."""
        self.busy = True
        self._started = time.monotonic()
        try:
            return await self._doc.fetchval(key)
        except BaseException:
            self._break()
            raise
        finally:
            self.busy = False
            self._started = 0.0

    async def fetchval(self, statement: str, *args: Any) -> Any:
        """Run ``statement`` and return the first column of its first row, or ``None``."""
        self.busy = True
        self._started = time.monotonic()
        try:
            return await self._connection.fetchval(statement, *args)
        except BaseException:
            self._break()
            raise
        finally:
            self.busy = False
            self._started = 0.0

    def _break(self) -> None:
        # Failed, cancelled or stopped mid-statement: its state is unknown, so it goes.
        self.broken = True
        self._watchdog.cancel()
        self._connection.terminate()

    async def _watch(self) -> None:
        interval = max(0.05, self._limit / 4)
        while True:
            await asyncio.sleep(interval)
            started = self._started
            if started and time.monotonic() - started > self._limit:
                self._break()  # the pending read fails with a connection error
                return

    async def close(self) -> None:
        """Close the connection (at once if it is broken or busy)."""
        self._watchdog.cancel()
        if self.broken or self.busy:
            self._connection.terminate()
        else:
            self.broken = True
            try:
                await self._connection.close(timeout=self._limit)
            except BaseException:
                self._connection.terminate()  # no clean goodbye: just drop it
                raise
