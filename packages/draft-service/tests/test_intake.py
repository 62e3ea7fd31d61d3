"""The send-messages write on SQLite and PostgreSQL: versions, known ids and concurrency."""

from __future__ import annotations

import asyncio

from draft_test_helpers import thread
from sqlalchemy import func, select

from draft_service.db import create_engine, upgrade
from draft_service.db.intake import add_messages
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
