"""A 405 lists in ``Allow`` every method the path accepts, across separate routes."""

from __future__ import annotations

import httpx
from fastapi import APIRouter

from api_core import ApiSettings, create_app


async def test_405_allow_names_every_route_of_the_path() -> None:
    router = APIRouter(prefix="/items")

    @router.get("")
    async def list_items() -> list[int]:
        return []

    @router.post("")
    async def add_item() -> int:
        return 1

    @router.delete("/{item_id}")
    async def drop_item(item_id: int) -> None:
        return None

    @router.patch("/{item_id}")
    async def change_item(item_id: int) -> int:
        return item_id

    app = create_app(ApiSettings.load(service_name="items"), routers=[router])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://local") as client:
        put = await client.put("/items")
        on_item = await client.get("/items/3")
    assert put.status_code == 405
    assert put.headers["Allow"] == "GET, POST"
    assert put.json()["detail"] == "PUT is not allowed here; use GET, POST"
    assert on_item.status_code == 405
    assert on_item.headers["Allow"] == "PATCH, DELETE"
