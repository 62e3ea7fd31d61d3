"""Server-Sent Events through a real server and a real SSE client (httpx-sse): in order,
resumable with Last-Event-ID, and from a Redis worker process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from draft_llm_stub import OpenAIStub
from draft_test_helpers import Served, make_settings, serving, thread
from httpx_sse import ServerSentEvent, aconnect_sse


@asynccontextmanager
async def _client(served: Served) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=served.base_url, headers=served.headers, timeout=30
    ) as client:
        yield client


async def _job_events(
    client: httpx.AsyncClient, job_id: str, *, last: str | None = None, stop_after: int = 10_000
) -> list[ServerSentEvent]:
    headers = {"Last-Event-ID": last} if last else {}
    seen: list[ServerSentEvent] = []
    async with aconnect_sse(
        client, "GET", f"/jobs/{job_id}/events", params={"user_id": "bob"}, headers=headers
    ) as source:
        assert source.response.headers["content-type"].startswith("text/event-stream")
        async for event in source.aiter_sse():
            seen.append(event)
            if len(seen) >= stop_after:
                break
    return seen


def _text(events: list[ServerSentEvent]) -> str:
    return "".join(json.loads(e.data)["text"] for e in events if e.event == "delta")


def _ids_increase(events: list[ServerSentEvent]) -> bool:
    ids = [tuple(int(p) for p in e.id.split("-")) for e in events if e.id]
    return ids == sorted(ids) and len(set(ids)) == len(ids)


async def _final_draft(client: httpx.AsyncClient) -> dict[str, Any]:
    drafts = (await client.get("/draft-messages/", params={"user_id": "bob"})).json()
    found: dict[str, Any] = drafts["draft_messages"][-1]
    return found


async def test_job_events_arrive_in_order_and_resume_after_a_reconnect(
    sqlite_url: str, llm: OpenAIStub
) -> None:
    llm.script.token_delay = 0.02
    async with serving(make_settings(sqlite_url, llm)) as served, _client(served) as client:
        body = thread("bob", "t", ("1", "Ann", "Can we move the review to Friday afternoon?"))
        job_id = (await client.post("/send-messages/", json=body)).json()["job_id"]
        first = await _job_events(client, job_id, stop_after=4)
        assert first[0].event == "state"  # the state when connecting, without an id
        assert first[0].id == ""
        last = [e for e in first if e.id][-1].id
        rest = await _job_events(client, job_id, last=last)
        events = first + rest
        assert _ids_increase(events), [(e.event, e.id, e.data[:60]) for e in events]
        states = [json.loads(e.data)["status"] for e in rest if e.event == "state"]
        assert states[-1] == "done"
        draft = await _final_draft(client)
        assert _text(events) == draft["draft_message_content"]  # no gap, no repeat
        assert json.loads(rest[-1].data)["draft_id"] == draft["draft_message_id"]
        # A finished job answers its final state and ends the stream.
        again = await _job_events(client, job_id)
        assert [(e.event, json.loads(e.data)["status"]) for e in again] == [("state", "done")]
        other = await client.get(f"/jobs/{job_id}/events", params={"user_id": "eve"})
        assert other.status_code == 404


async def test_user_events_report_jobs_queued_and_drafts_ready_superseded_rejected_sent(
    database_url: str, llm: OpenAIStub
) -> None:
    async with serving(make_settings(database_url, llm)) as served, _client(served) as client:
        seen: list[ServerSentEvent] = []
        async with aconnect_sse(client, "GET", "/users/bob/events") as source:
            events = source.aiter_sse()
            await client.post("/send-messages/", json=thread("bob", "t", ("1", "Ann", "Hi?")))
            seen += [await anext(events), await anext(events)]
            await client.post("/send-messages/", json=thread("bob", "t", ("2", "Ann", "Hello?")))
            seen += [await anext(events), await anext(events), await anext(events)]
            second = json.loads(seen[3].data)["draft_id"]
            reject = {"user_id": "bob", "draft_message_id": second}
            await client.post("/reject-draft/", json=reject)
            seen.append(await anext(events))
            await client.post("/send-messages/", json=thread("bob", "u", ("3", "Bo", "Ok?")))
            seen += [await anext(events), await anext(events)]
            third = json.loads(seen[-1].data)["draft_id"]
            sent = {"user_id": "bob", "draft_message_id": third}
            assert (await client.post("/mark-sent/", json=sent)).status_code == 200
            seen.append(await anext(events))
        kinds = [e.event for e in seen]
        assert kinds == [
            "job.queued",
            "draft.ready",
            "job.queued",
            "draft.ready",
            "draft.superseded",
            "draft.rejected",
            "job.queued",
            "draft.ready",
            "draft.sent",
        ]
        assert json.loads(seen[0].data)["thread"] == "t"
        first = json.loads(seen[1].data)["draft_id"]
        assert json.loads(seen[4].data) == {"draft_id": first, "by": second}
        assert json.loads(seen[-1].data) == {"draft_id": third}
        assert _ids_increase(seen)
        # Reconnecting after the first event replays the rest, in order.
        replay: list[ServerSentEvent] = []
        headers = {"Last-Event-ID": seen[0].id}
        async with aconnect_sse(client, "GET", "/users/bob/events", headers=headers) as source:
            async for event in source.aiter_sse():
                replay.append(event)
                if len(replay) == len(seen) - 1:
                    break
        assert [e.id for e in replay] == [e.id for e in seen[1:]]


async def test_events_from_a_redis_worker_process_reach_the_api_client(
    sqlite_url: str, redis_url: str, redis_key_prefix: str, llm: OpenAIStub
) -> None:
    llm.script.token_delay = 0.01
    stream = f"{redis_key_prefix}drafts:jobs"
    settings = make_settings(sqlite_url, llm, redis_url=redis_url, stream=stream)
    env = {
        **os.environ,
        "DRAFTS_DATABASE_URL": sqlite_url,
        "DRAFTS_REDIS_URL": redis_url,
        "DRAFTS_STREAM": stream,
        "DRAFTS_LLM_PROVIDER": "openai",
        "DRAFTS_LLM_API_KEY": "stub-key",
        "DRAFTS_LLM_MODEL": "stub/model-1",
        "DRAFTS_LLM_BASE_URL": llm.base_url,
    }
    async with serving(settings) as served, _client(served) as client:
        assert not served.runtime.queue.running  # this process only enqueues
        body = thread("bob", "t", ("1", "Ann", "Is the contract signed yet?"))
        job_id = (await client.post("/send-messages/", json=body)).json()["job_id"]
        worker = subprocess.Popen(  # noqa: ASYNC220 - started once, stopped below
            [sys.executable, "-m", "draft_service", "worker", "--concurrency", "1"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            # The worker starts after the send, so the first events come from its process.
            first = await _job_events(client, job_id, stop_after=3)
            assert first[0].event == "state"
            assert json.loads(first[0].data)["status"] == "queued"
            last = [e for e in first if e.id][-1].id
            events = first + await _job_events(client, job_id, last=last)  # resumed on Redis
        finally:
            worker.terminate()
            worker.wait(timeout=30)
            if worker.stderr is not None:
                worker.stderr.close()
        states = [json.loads(e.data)["status"] for e in events if e.event == "state"]
        assert states[-2:] == ["running", "done"]
        assert _ids_increase(events), [(e.event, e.id, e.data[:60]) for e in events]
        assert _text(events) == (await _final_draft(client))["draft_message_content"]
