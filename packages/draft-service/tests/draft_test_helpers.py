"""Shared test helpers: a client on a running service and waiting for jobs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from draft_llm_stub import OpenAIStub

from draft_service import DraftSettings, Runtime, build_runtime, create_draft_app
from draft_service.archive import MessageArchive

API_KEY = "test-service-key"

FINAL = {"done", "truncated", "failed", "discarded"}


@dataclass
class Running:
    """A started service and an HTTP client on it."""

    client: httpx.AsyncClient
    runtime: Runtime


@asynccontextmanager
async def running(
    settings: DraftSettings, *, consume: bool | None = None, archive: MessageArchive | None = None
) -> AsyncIterator[Running]:
    """Start the runtime, serve the app in-process and close both afterwards."""
    runtime = await build_runtime(settings, consume=consume, archive=archive)
    app = create_draft_app(settings, runtime=runtime)
    headers = {}
    if settings.api_key is not None:
        headers["Authorization"] = f"Bearer {settings.api_key.get_secret_value()}"
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(
            transport=transport, base_url="http://draft.test", headers=headers
        ) as client:
            yield Running(client, runtime)
    finally:
        await runtime.close()


@dataclass
class Served:
    """A started service behind a real HTTP server (uvicorn) on a free local port."""

    base_url: str
    headers: dict[str, str]
    runtime: Runtime


@asynccontextmanager
async def serving(settings: DraftSettings, *, consume: bool | None = None) -> AsyncIterator[Served]:
    """Serve the app with uvicorn in this event loop (streamed responses need a real server)."""
    import uvicorn

    from platform_core.testing.services import free_port

    runtime = await build_runtime(settings, consume=consume)
    app = create_draft_app(settings, runtime=runtime)
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        headers = {}
        if settings.api_key is not None:
            headers["Authorization"] = f"Bearer {settings.api_key.get_secret_value()}"
        yield Served(f"http://127.0.0.1:{port}", headers, runtime)
    finally:
        server.should_exit = True
        await task
        await runtime.close()


def thread(user: str, name: str, *msgs: tuple[str, str, str]) -> dict[str, Any]:
    """A ``/send-messages/`` body; each message is ``(message_id, sender, content)``."""
    return {
        "user_id": user,
        "thread_name": name,
        "messages": [
            {
                "message_id": mid,
                "sender_name": sender,
                "date": "2024-05-01",
                "time": f"09:{i:02d}:00.5",
                "message_content": content,
            }
            for i, (mid, sender, content) in enumerate(msgs)
        ],
    }


async def wait_job(
    client: httpx.AsyncClient, job_id: str, user: str, *, limit: float = 30.0
) -> dict[str, Any]:
    """Poll ``GET /jobs/{id}`` until the job reaches a final status (bounded wait)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while True:
        r = await client.get(f"/jobs/{job_id}", params={"user_id": user})
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        if body["status"] in FINAL or loop.time() > deadline:
            return body
        await asyncio.sleep(0.02)


def make_settings(
    database_url: str, llm: OpenAIStub | None = None, **extra: object
) -> DraftSettings:
    """Settings for a test: the stub as the LLM (or offline), fast retries, a service key."""
    values: dict[str, object] = {
        "database_url": database_url,
        "api_key": API_KEY,
        "llm_backoff_base": 0.01,
        "llm_backoff_cap": 0.05,
        "llm_timeout": 5.0,
        "worker_concurrency": 2,
    }
    if llm is not None:
        values.update(
            llm_provider="openai",
            llm_api_key="stub-key",
            llm_model="stub/model-1",
            llm_base_url=llm.base_url,
        )
    else:
        values["llm_provider"] = "offline"
    values.update(extra)
    return DraftSettings.load(**values)
