"""The PostgreSQL backend (extra ``activity-store[postgres]``), on asyncpg.

Each namespace is a PostgreSQL schema holding two tables, created and upgraded by Alembic
migrations when the backend is set up: ``objects`` (one row per object) and ``members`` (one
row per collection entry). Each row keeps the document verbatim as ``jsonb`` next to the
columns queries use: expanded ``types`` and ``former_types`` and lower-cased ``tags`` (text
arrays, GIN-indexed), the text's ``words`` as a ``tsvector`` (GIN-indexed), and ``published``
/ ``updated`` as epoch milliseconds (B-tree indexed with the id, for keyset pagination). The
library computes those columns, so they mean exactly what the memory backend matches on.
Rows are keyed by a SHA-256 of the id, so ids of any length are stored.
"""

# Statements interpolate only the schema (a quoted identifier) and $n placeholders; values
# always travel as bind parameters.
# ruff: noqa: S608

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type information

from activity_store.backends import _pg_sql as sql
from activity_store.backends._pg_reader import Reader
from activity_store.errors import ActivityStoreError
from activity_store.interfaces import StorageBackend
from activity_store.query import Page, Query, encode_cursor
from activity_store.settings import PostgresSettings
from platform_core.logging import get_logger

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

__all__ = ["PostgresBackend"]

_log = get_logger(__name__)
_MIGRATIONS = Path(__file__).parent / "_pg_migrations"
_MIGRATING = threading.Lock()


_FAILURES = (asyncpg.PostgresError, OSError, asyncpg.InterfaceError)


def _failure(action: str, exc: BaseException) -> ActivityStoreError:
    """The error to raise for one of :data:`_FAILURES` during ``action``."""
    lost = isinstance(exc, asyncpg.PostgresConnectionError)  # e.g. closed mid-statement
    if isinstance(exc, asyncpg.PostgresError) and not lost:
        return ActivityStoreError(f"PostgreSQL rejected {action}: {exc}")
    return ActivityStoreError(
        f"PostgreSQL unreachable during {action}: {exc}; check "
        "ACTIVITY_STORE_DATABASE_URL and that the server is running"
    )


@asynccontextmanager
async def _wrap(action: str) -> AsyncIterator[None]:
    try:
        yield
    except _FAILURES as exc:
        raise _failure(action, exc) from exc


def _migrate(connection: Connection, schema: str) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["connection"] = connection
    config.attributes["schema"] = schema
    command.upgrade(config, "head")


class PostgresBackend(StorageBackend):
    """Stores objects and collection members in one PostgreSQL schema per namespace.

    Args:
        url: ``postgresql://`` URL of the database (also used for the migrations).
        namespace: The schema's name (at most 63 bytes).
        pool: An asyncpg pool to use instead of creating one (it is then not closed here).
        pool_size: Most connections of the pool this backend creates. With its own pool the
            backend also keeps one connection of its own for single-row reads.
        command_timeout: Seconds per statement (on the reads' connection the server enforces
            it, see ``_pg_reader``).
    """

    def __init__(
        self,
        url: str,
        *,
        namespace: str = "activity_store",
        pool: asyncpg.Pool | None = None,
        pool_size: int = 10,
        command_timeout: float = 10.0,
    ) -> None:
        if not namespace or len(namespace.encode()) > 63:
            raise ValueError(
                f"namespace {namespace!r} must be 1 to 63 bytes: it names a PostgreSQL schema"
            )
        self.url = url
        self.namespace = namespace
        self.schema = '"' + namespace.replace('"', '""') + '"'
        self._pool = pool
        self._owns_pool = pool is None
        self._pool_size = pool_size
        self._command_timeout = command_timeout
        self._ready = False
        # A connection kept for single-row reads: a dereference then skips the pool's
        # acquire/release. Used by one read at a time; concurrent reads go through the pool.
        self._reader: Reader | None = None
        self._opening_reader = False
        # Built once: the read path is the hot one, and under CPU contention every
        # microsecond of client work there shows in its latency.
        self._select_doc = f"SELECT doc::text FROM {self.schema}.objects WHERE key = $1"
        self._select_member = (
            f"SELECT member::text FROM {self.schema}.members WHERE collection_key = $1 AND key = $2"
        )

    @classmethod
    def from_settings(cls, settings: PostgresSettings, *, namespace: str) -> Self:
        """Build the backend from :class:`~activity_store.settings.PostgresSettings`."""
        return cls(
            settings.database_url.get_secret_value(),
            namespace=namespace,
            pool_size=settings.pool_size,
            command_timeout=settings.command_timeout,
        )

    @classmethod
    def from_env(cls, *, namespace: str) -> Self:
        """Build the backend from ``ACTIVITY_STORE_DATABASE_URL`` and ``_POOL_SIZE``."""
        return cls.from_settings(PostgresSettings.load(), namespace=namespace)

    @property
    def pool(self) -> asyncpg.Pool:
        """The connection pool (after :meth:`setup`)."""
        if self._pool is None:
            raise ActivityStoreError("PostgresBackend is not set up; call setup() first")
        return self._pool

    async def setup(self) -> None:
        """Create the pool and bring the schema up to the newest migration."""
        if self._ready:
            return
        from sqlalchemy.ext.asyncio import create_async_engine
        from sqlalchemy.pool import NullPool

        engine = create_async_engine(
            self.url.replace("postgresql://", "postgresql+asyncpg://", 1), poolclass=NullPool
        )
        # Alembic keeps its running context in module globals, so one migration at a time per
        # process (across event loops and threads); the advisory lock in env.py covers other
        # processes. Polling, not a blocking wait, so a cancelled setup never holds the lock.
        while not _MIGRATING.acquire(blocking=False):  # noqa: ASYNC110 - a thread lock
            await asyncio.sleep(0.01)
        try:
            async with _wrap(f"migrating schema {self.namespace!r}"), engine.begin() as conn:
                await conn.run_sync(_migrate, self.namespace)
        finally:
            _MIGRATING.release()
            await engine.dispose()
        if self._pool is None:
            async with _wrap("connecting"):
                self._pool = await asyncpg.create_pool(
                    self.url,
                    min_size=1,
                    max_size=self._pool_size,
                    command_timeout=self._command_timeout,
                )
        self._ready = True
        _log.info("activity_store.pg.schema_ready", schema=self.namespace)

    async def teardown(self, *, delete_data: bool = False) -> None:
        """Close the pool if this backend created it; first drop the schema when asked."""
        try:
            await self._release_reader()
            if delete_data and self._pool is not None:
                async with _wrap(f"dropping schema {self.namespace!r}"):
                    await self._pool.execute(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE")
        finally:
            self._ready = False
            if self._owns_pool and self._pool is not None:
                pool, self._pool = self._pool, None
                await pool.close()

    async def _release_reader(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None:
            await reader.close()

    async def _fetch_one(self, statement: str, *args: Any) -> Any:
        reader = self._reader
        if reader is None or not reader.free:
            if not self._owns_pool or self._opening_reader or (reader and reader.busy):
                # A backend on an application's pool keeps no connection of its own; and a
                # read while the reader is busy or being opened goes through the pool.
                return await self.pool.fetchval(statement, *args)
            # None yet, or the last one broke (it closed itself): open a new one.
            self._opening_reader = True
            try:
                reader = self._reader = await Reader.open(
                    self.url, self._select_doc, self._command_timeout
                )
            finally:
                self._opening_reader = False
        return await reader.fetchval(statement, *args)

    def _object_row(self, obj: dict[str, Any]) -> list[Any]:
        return [sql.key(obj["id"]), *sql.search_values(obj), json.dumps(obj)]

    @property
    def _upsert_object(self) -> str:
        return (
            f"INSERT INTO {self.schema}.objects (key, {sql.SEARCH_COLUMNS}, doc) "
            f"VALUES ($1, {sql.search_placeholders(2)}, $9::jsonb) "
            f"ON CONFLICT (key) DO UPDATE SET {sql.UPDATE_SEARCH}, doc = EXCLUDED.doc"
        )

    async def put(self, obj: dict[str, Any]) -> None:
        """Insert or replace the object's row."""
        async with _wrap(f"storing {obj['id']!r}"):
            await self.pool.execute(self._upsert_object, *self._object_row(obj))

    async def put_many(self, objs: Sequence[dict[str, Any]]) -> None:
        """Insert or replace every object's row in one transaction."""
        if not objs:
            return
        rows = [self._object_row(obj) for obj in objs]
        async with (
            _wrap(f"storing {len(objs)} objects"),
            self.pool.acquire() as conn,
            conn.transaction(),
        ):
            await conn.executemany(self._upsert_object, rows)

    async def get(self, object_id: str) -> dict[str, Any] | None:
        """Return the stored document, or ``None``."""
        key = sql.key(object_id)
        reader = self._reader
        try:
            if reader is not None and reader.free:
                raw = await reader.fetch_doc(key)  # the hot path: the prepared statement
            else:
                raw = await self._fetch_one(self._select_doc, key)
        except _FAILURES as exc:
            raise _failure(f"reading {object_id!r}", exc) from exc
        if raw is None:
            return None
        found: dict[str, Any] = json.loads(raw)
        return found

    @property
    def _upsert_member(self) -> str:
        return (
            f"INSERT INTO {self.schema}.members "
            f"(collection_key, key, collection, {sql.SEARCH_COLUMNS}, member) "
            f"VALUES ($1, $2, $3, {sql.search_placeholders(4)}, $11::jsonb) "
            f"ON CONFLICT (collection_key, key) DO UPDATE SET {sql.UPDATE_SEARCH}, "
            "member = EXCLUDED.member"
        )

    def _member_row(
        self, collection: str, member: dict[str, Any], source: dict[str, Any]
    ) -> list[Any]:
        values = sql.search_values(source)
        values[0] = member["id"]
        collection_key, member_key = sql.key(collection), sql.key(member["id"])
        return [collection_key, member_key, collection, *values, json.dumps(member)]

    async def add_member(
        self, collection: str, member: dict[str, Any], source: dict[str, Any]
    ) -> None:
        """Insert or replace ``collection``'s entry for the member."""
        row = self._member_row(collection, member, source)
        async with _wrap(f"adding {member['id']!r} to {collection!r}"):
            await self.pool.execute(self._upsert_member, *row)

    async def add_members(
        self, collection: str, entries: Sequence[tuple[dict[str, Any], dict[str, Any]]]
    ) -> None:
        """Insert or replace every ``(member, source)`` entry in one transaction."""
        rows = [self._member_row(collection, member, source) for member, source in entries]
        if not rows:
            return
        async with (
            _wrap(f"adding {len(rows)} members to {collection!r}"),
            self.pool.acquire() as conn,
            conn.transaction(),
        ):
            await conn.executemany(self._upsert_member, rows)

    async def remove_member(self, collection: str, object_id: str) -> bool:
        """Delete ``collection``'s entry for ``object_id``; the object stays."""
        async with _wrap(f"removing {object_id!r} from {collection!r}"):
            status = await self.pool.execute(
                f"DELETE FROM {self.schema}.members WHERE collection_key = $1 AND key = $2",
                sql.key(collection),
                sql.key(object_id),
            )
        return bool(status != "DELETE 0")

    async def get_member(self, collection: str, object_id: str) -> dict[str, Any] | None:
        """Return ``collection``'s partial copy of ``object_id``, or ``None``."""
        try:
            keys = sql.key(collection), sql.key(object_id)
            raw = await self._fetch_one(self._select_member, *keys)
        except _FAILURES as exc:
            raise _failure(f"reading {object_id!r} in {collection!r}", exc) from exc
        if raw is None:
            return None
        found: dict[str, Any] = json.loads(raw)
        return found

    async def delete(self, object_id: str) -> bool:
        """Delete the object's row and its collection entries in one transaction."""
        object_key = sql.key(object_id)
        async with (
            _wrap(f"deleting {object_id!r}"),
            self.pool.acquire() as conn,
            conn.transaction(),
        ):
            await conn.execute(f"DELETE FROM {self.schema}.members WHERE key = $1", object_key)
            status = await conn.execute(
                f"DELETE FROM {self.schema}.objects WHERE key = $1", object_key
            )
        return bool(status != "DELETE 0")

    async def put_tombstone(self, tombstone: dict[str, Any], member: dict[str, Any]) -> None:
        """Replace the object and rewrite its collection entries in one transaction."""
        values = sql.search_values(tombstone)
        update = (
            f"UPDATE {self.schema}.members SET ({sql.SEARCH_COLUMNS}, member) = "
            f"({sql.search_placeholders(2)}, $9::jsonb) WHERE key = $1"
        )
        object_key = sql.key(tombstone["id"])
        async with (
            _wrap(f"tombstoning {tombstone['id']!r}"),
            self.pool.acquire() as conn,
            conn.transaction(),
        ):
            await conn.execute(self._upsert_object, *self._object_row(tombstone))
            await conn.execute(update, object_key, *values, json.dumps(member))

    async def query(self, query: Query) -> Page:
        """Run ``query`` with keyset pagination (the cursor is the last row's sort key)."""
        select = sql.build(query, self.schema)
        async with _wrap("searching"), self.pool.acquire() as conn:
            rows = await conn.fetch(select.page, *select.args)
            if query.after is None and len(rows) <= query.size:
                total = len(rows)
            else:
                total = int(await conn.fetchval(select.count, *select.count_args))
        page: Page = {
            "type": "OrderedCollection" if query.sort else "Collection",
            "totalItems": total,
            "items": [json.loads(row[0]) for row in rows[: query.size]],
        }
        if len(rows) > query.size:
            last = rows[query.size - 1]
            page["next"] = encode_cursor([last[2], last[1]])
        return page
