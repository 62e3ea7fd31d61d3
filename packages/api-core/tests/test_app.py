"""create_app: problem details, request ids, body limit, CORS, health."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Annotated

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, Request
from pydantic import BaseModel

from api_core import (
    ApiSettings,
    HealthRegistry,
    ProblemError,
    Specification,
    create_app,
    filter_dependency,
)
from api_core.middleware import log_request_at

router = APIRouter()


class Item(BaseModel):
    name: str
    price: float


@router.post("/items")
async def create_item(item: Item) -> Item:
    return item


@router.get("/teapot")
async def teapot() -> None:
    raise ProblemError(418, "I'm a teapot", "Brew coffee elsewhere.", type="https://e.io/teapot")


@router.get("/boom")
async def boom() -> None:
    raise RuntimeError("secret internals")


@router.post("/poll")
async def poll(request: Request, found: int = 0) -> dict[str, int]:
    if not found:
        log_request_at(request, logging.DEBUG)
    return {"found": found}


Filters = filter_dependency({"status": str, "priority": int}, ignore={"limit"})
FilterSpec = Annotated[Specification | None, Depends(Filters)]


@router.get("/filter")
async def filtered(spec: FilterSpec) -> dict[str, str]:
    return {"spec": repr(spec)}


def make_app(**overrides: object) -> FastAPI:
    settings = ApiSettings.load(max_body_size=64, **overrides)
    return create_app(settings, routers=[router])


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=make_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


async def test_validation_error_is_problem_json(client: httpx.AsyncClient) -> None:
    resp = await client.post("/items", json={"name": "x", "price": "cheap"})
    assert resp.status_code == 422
    assert resp.headers["content-type"] == "application/problem+json"
    body = resp.json()
    assert body["status"] == 422
    assert body["instance"] == "/items"
    assert body["errors"][0]["loc"] == ["body", "price"]
    assert body["request_id"] == resp.headers["x-request-id"]


async def test_not_found_is_problem_json(client: httpx.AsyncClient) -> None:
    resp = await client.get("/nope")
    assert resp.status_code == 404
    assert resp.json()["title"] == "Not Found"
    assert resp.headers["content-type"] == "application/problem+json"


async def test_problem_error_keeps_type_and_title(client: httpx.AsyncClient) -> None:
    resp = await client.get("/teapot")
    assert resp.status_code == 418
    body = resp.json()
    assert body["type"] == "https://e.io/teapot"
    assert body["detail"] == "Brew coffee elsewhere."


async def test_unhandled_error_is_500_without_leaking(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        resp = await client.get("/boom", headers={"X-Request-ID": "req-42"})
    assert resp.status_code == 500
    assert "secret internals" not in resp.text
    assert resp.json()["request_id"] == "req-42"
    assert resp.headers["x-request-id"] == "req-42"
    logged = [r.msg for r in caplog.records if isinstance(r.msg, dict)]
    assert any(
        m.get("event") == "unhandled error" and m.get("request_id") == "req-42" for m in logged
    )


async def test_request_id_generated_or_kept(client: httpx.AsyncClient) -> None:
    generated = await client.get("/health/live")
    assert len(generated.headers["x-request-id"]) == 32
    kept = await client.get("/health/live", headers={"X-Request-ID": "abc-123"})
    assert kept.headers["x-request-id"] == "abc-123"
    unsafe = await client.get("/health/live", headers={"X-Request-ID": "a b\tc"})
    assert unsafe.headers["x-request-id"] != "a b\tc"


async def test_body_over_limit_by_content_length_is_413(client: httpx.AsyncClient) -> None:
    resp = await client.post(
        "/items", content=b"x" * 65, headers={"content-type": "application/json"}
    )
    assert resp.status_code == 413
    assert resp.headers["content-type"] == "application/problem+json"
    assert "64 bytes" in resp.json()["detail"]


async def test_chunked_body_over_limit_is_413(client: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b'{"name": "aaaaaaaaa"'

    resp = await client.post(
        "/items", content=chunks(), headers={"content-type": "application/json"}
    )
    assert "content-length" not in resp.request.headers
    assert resp.status_code == 413
    assert resp.json()["status"] == 413


async def test_body_under_limit_passes(client: httpx.AsyncClient) -> None:
    resp = await client.post("/items", json={"name": "a", "price": 1.5})
    assert resp.status_code == 200
    assert resp.json() == {"name": "a", "price": 1.5}


async def test_cors_from_settings() -> None:
    app = create_app(
        ApiSettings.load(cors={"allow_origins": ["https://app.example"]}), routers=[router]
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        pre = await c.options(
            "/items",
            headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST"},
        )
        other = await c.get("/health/live", headers={"Origin": "https://evil.example"})
    assert pre.status_code == 200
    assert pre.headers["access-control-allow-origin"] == "https://app.example"
    assert "access-control-allow-origin" not in other.headers


async def test_no_cors_headers_without_origins(client: httpx.AsyncClient) -> None:
    resp = await client.get("/health/live", headers={"Origin": "https://app.example"})
    assert "access-control-allow-origin" not in resp.headers


async def test_filter_query_params(client: httpx.AsyncClient) -> None:
    ok = await client.get("/filter?status=eq:Running&priority=ge:3&limit=5")
    assert ok.status_code == 200
    assert "'status', 'eq', 'Running'" in ok.json()["spec"]
    assert "'priority', 'ge', 3" in ok.json()["spec"]
    bad = await client.get("/filter?priority=gt:high")
    assert bad.status_code == 400
    assert bad.json()["parameter"] == "priority"
    unknown = await client.get("/filter?password=eq:x")
    assert unknown.status_code == 400
    assert "filterable: priority, status" in unknown.json()["detail"]


async def test_health_live_and_ready() -> None:
    registry = HealthRegistry(default_timeout=0.2)

    async def ok() -> None:
        return None

    async def slow() -> None:
        await asyncio.sleep(5)

    async def broken() -> None:
        raise ConnectionError("refused")

    registry.add("db", ok)
    app = create_app(ApiSettings.load(), health=registry)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        assert (await c.get("/health/live")).json() == {"status": "alive"}
        healthy = await c.get("/health/ready")
        assert healthy.status_code == 200
        assert healthy.json()["status"] == "healthy"

        registry.add("search", slow, required=False)
        degraded = await c.get("/health/ready")
        assert degraded.status_code == 200
        assert degraded.json()["status"] == "degraded"
        assert degraded.json()["checks"]["search"]["error"] == "timed out after 0.2s"

        registry.add("redis", broken)
        down = await c.get("/health/ready")
        assert down.status_code == 503
        checks = down.json()["checks"]
        assert checks["redis"] == {
            "status": "fail",
            "required": True,
            "duration_ms": checks["redis"]["duration_ms"],
            "error": "ConnectionError: refused",
        }
        assert checks["db"]["status"] == "pass"
        assert (await c.get("/health/live")).status_code == 200


async def test_ready_checks_run_concurrently() -> None:
    registry = HealthRegistry()
    started: list[str] = []
    both = asyncio.Event()

    def make(name: str):  # type: ignore[no-untyped-def]
        async def check() -> None:
            started.append(name)
            if len(started) == 2:
                both.set()
            await both.wait()

        return check

    registry.add("a", make("a"), timeout=2)
    registry.add("b", make("b"), timeout=2)
    report = await registry.run()
    assert report.status == "healthy"


async def test_a_route_can_log_its_request_line_at_debug(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="api_core.access"):
        await client.post("/poll")
        await client.post("/poll", params={"found": 2})
    lines = [
        (r.levelno, r.msg.get("status"))
        for r in caplog.records
        if isinstance(r.msg, dict) and r.msg.get("event") == "request finished"
    ]
    assert lines == [(logging.DEBUG, 200), (logging.INFO, 200)]


@pytest.mark.parametrize("freeze", [True, False])
async def test_startup_heap_is_frozen_unless_disabled(freeze: bool) -> None:
    import gc

    gc.unfreeze()
    try:
        app = make_app(gc_freeze=freeze)
        async with app.router.lifespan_context(app):
            frozen = gc.get_freeze_count()
    finally:
        gc.unfreeze()
    assert (frozen > 0) is freeze


async def test_startup_sets_the_young_generation_threshold() -> None:
    import gc

    before = gc.get_threshold()
    try:
        app = make_app(gc_young_threshold=5_000, gc_freeze=False)
        async with app.router.lifespan_context(app):
            during = gc.get_threshold()
    finally:
        gc.set_threshold(*before)
    assert during == (5_000, *before[1:])
