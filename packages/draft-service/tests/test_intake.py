"""The send-messages write on SQLite and PostgreSQL: versions, known ids and concurrency."""

from __future__ import annotations

import asyncio

import pytest
from draft_test_helpers import thread
from sqlalchemy import func, select

from draft_service.db import create_engine, upgrade
from draft_service.db.intake import KnownThreads, add_messages
from draft_service.db.schema import Job, Message, Thread
from draft_service.models import SendMessagesRequest


def _req(user: str, name: str, *msgs: tuple[str, str, str]) -> SendMessagesRequest:
    return SendMessagesRequest.model_validate(thread(user, name, *msgs))


async def test_versions_known_ids_and_duplicates_in_one_batch(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await upgrade(engine)
        first = await add_messages(
            engine, _req("ann", "t", ("m1", "A", "one"), ("m1", "A", "dup"), ("m2", "A", "two"))
        )
        assert first.new_message_ids == ("m1", "m2")
        resend = await add_messages(engine, _req("ann", "t", ("m2", "A", "two")))
        assert resend.job_id == first.job_id
        assert resend.new_message_ids == ()
        more = await add_messages(engine, _req("ann", "t", ("m2", "A", "two"), ("m3", "A", "x")))
        assert more.new_message_ids == ("m3",)
        assert more.job_id != first.job_id
        other_user = await add_messages(engine, _req("bob", "t", ("m1", "B", "mine")))
        assert other_user.thread_id != first.thread_id
        async with engine.connect() as conn:
            version = (
                await conn.execute(select(Thread.version).where(Thread.id == first.thread_id))
            ).scalar_one()
            rows = (
                await conn.execute(
                    select(Message.message_id, Message.content, Message.thread_version)
                    .where(Message.thread_id == first.thread_id)
                    .order_by(Message.message_id)
                )
            ).all()
            jobs = (
                await conn.execute(
                    select(Job.thread_version)
                    .where(Job.thread_id == first.thread_id)
                    .order_by(Job.thread_version)
                )
            ).scalars()
            # The resend rolled back its version bump: two sends with news, two versions.
            assert version == 2
            assert [tuple(r) for r in rows] == [("m1", "one", 1), ("m2", "two", 1), ("m3", "x", 2)]
            assert list(jobs) == [1, 2]
    finally:
        await engine.dispose()


async def test_concurrent_sends_to_one_thread_each_get_their_own_version(
    database_url: str,
) -> None:
    engine = create_engine(database_url)
    try:
        await upgrade(engine)
        results = await asyncio.gather(
            *(add_messages(engine, _req("ann", "busy", (f"m{i}", "A", f"n{i}"))) for i in range(12))
        )
        assert len({r.thread_id for r in results}) == 1
        async with engine.connect() as conn:
            versions = await conn.execute(select(Job.thread_version).order_by(Job.thread_version))
            assert list(versions.scalars()) == list(range(1, 13))
            count = (await conn.execute(select(func.count()).select_from(Message))).scalar_one()
            assert count == 12
    finally:
        await engine.dispose()


async def test_a_wrong_hint_about_a_thread_changes_nothing(database_url: str) -> None:
    """``KnownThreads`` only chooses which write runs first: a thread named in it that does not
    exist is created as usual, and a thread missing from it is updated as usual."""
    engine = create_engine(database_url)
    known = KnownThreads(size=2)
    try:
        await upgrade(engine)
        known.add(("ann", "new"))  # wrong: no such thread yet
        created = await add_messages(engine, _req("ann", "new", ("m1", "A", "one")), known)
        other = KnownThreads()  # another process: has not seen "new"
        more = await add_messages(engine, _req("ann", "new", ("m2", "A", "two")), other)
        again = await add_messages(engine, _req("ann", "new", ("m2", "A", "two")), other)
        for i in range(3):  # pushes ("ann", "new") out of the first hint
            await add_messages(engine, _req("ann", f"x{i}", ("m1", "A", "x")), known)
        last = await add_messages(engine, _req("ann", "new", ("m3", "A", "three")), known)
        assert (created.version, more.version, again.version, last.version) == (1, 2, 2, 3)
        assert again.job_id == more.job_id
        assert again.new_message_ids == ()
        assert len({created.thread_id, more.thread_id, last.thread_id}) == 1
        async with engine.connect() as conn:
            rows = await conn.execute(
                select(Message.message_id, Message.thread_version)
                .where(Message.thread_id == created.thread_id)
                .order_by(Message.message_id)
            )
            assert [tuple(r) for r in rows] == [("m1", 1), ("m2", 2), ("m3", 3)]
            versions = await conn.execute(
                select(Job.thread_version)
                .where(Job.thread_id == created.thread_id)
                .order_by(Job.thread_version)
            )
            assert list(versions.scalars()) == [1, 2, 3]
    finally:
        await engine.dispose()


async def test_warming_the_pool_runs_the_new_thread_statement_and_writes_nothing(
    postgres_url: str,
) -> None:
    """``open_pool(warm=warm_up)`` leaves the new-thread statement prepared on each pooled
    connection, in a transaction rolled back: no thread, message or job is left behind."""
    from sqlalchemy import text

    from draft_service.db.engine import open_pool
    from draft_service.db.intake import warm_up

    engine = create_engine(postgres_url.replace("postgresql://", "postgresql+asyncpg://", 1))
    try:
        await upgrade(engine)
        await open_pool(engine, 3, warm=warm_up)
        assert engine.pool.checkedin() == 3  # type: ignore[attr-defined]
        prepared = text(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE 'WITH t AS (%'"
        )
        async with engine.connect() as conn:
            assert (await conn.execute(prepared)).scalar_one() == 1
            for table in (Thread, Message, Job):
                count = select(func.count()).select_from(table)
                assert (await conn.execute(count)).scalar_one() == 0
        # The warm-up's own thread name is an ordinary thread afterwards.
        sent = await add_messages(
            engine, _req("warm-up", "warm-up", ("warm-up", "A", "hi")), KnownThreads()
        )
        assert sent.new_message_ids == ("warm-up",)
        assert sent.version == 1
    finally:
        await engine.dispose()


async def test_the_new_thread_insert_on_the_driver_invalidates_a_failed_connection(
    postgres_url: str,
) -> None:
    """asyncpg runs the first send of a thread directly; when it fails there (a NUL the API
    would have refused), that connection is dropped and the next send gets a sound one."""
    from sqlalchemy import event

    engine = create_engine(
        postgres_url.replace("postgresql://", "postgresql+asyncpg://", 1), pool_size=1
    )
    try:
        await upgrade(engine)
        connects: list[object] = []
        event.listen(engine.sync_engine, "connect", lambda *_: connects.append(1))
        ok = await add_messages(engine, _req("ann", "a", ("m1", "A", "hi")), KnownThreads())
        before = len(connects)
        good = _req("ann", "b", ("m1", "A", "hi"))
        message = good.messages[0].model_copy(update={"message_content": "h\x00i"})
        bad = good.model_copy(update={"messages": [message]})  # not validated: as if it were
        with pytest.raises(Exception, match="0x00"):  # asyncpg's error, as it came
            await add_messages(engine, bad, KnownThreads())
        again = await add_messages(engine, _req("ann", "c", ("m1", "A", "hi")), KnownThreads())
        assert again.version == 1
        assert again.thread_id != ok.thread_id
        assert len(connects) == before + 1  # the failed connection was replaced
    finally:
        await engine.dispose()


async def test_a_statement_listener_sees_the_new_thread_insert(postgres_url: str) -> None:
    """With something listening to statements (the OpenTelemetry instrumentation), the first
    send of a thread goes through SQLAlchemy, so the listener sees it."""
    from sqlalchemy import event

    engine = create_engine(postgres_url.replace("postgresql://", "postgresql+asyncpg://", 1))
    seen: list[str] = []

    def listener(*args: object) -> None:
        seen.append(str(args[2]))

    try:
        await upgrade(engine)
        event.listen(engine.sync_engine, "before_cursor_execute", listener)
        sent = await add_messages(engine, _req("ann", "t", ("m1", "A", "hi")), KnownThreads())
        assert sent.version == 1
        assert any(s.startswith("WITH t AS (") for s in seen)
    finally:
        await engine.dispose()
