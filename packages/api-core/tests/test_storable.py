"""check_storable / StorableStr: what cannot be stored is refused, naming where it is."""

from __future__ import annotations

import json
from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter
from pydantic import BaseModel

from api_core import (
    ApiSettings,
    StorableStr,
    UnstorableValueError,
    check_storable,
    create_app,
    storable_json,
)


@pytest.mark.parametrize(
    ("value", "path", "reason_part"),
    [
        ({"a": ["x", "y", "z", "ok\x00"]}, "body.a[3]", "NUL"),
        ({"metadata": {"a": [0, 1, 2, "\udfff"]}}, "body.metadata.a[3]", "surrogate (\\udfff)"),
        ({"weird key": "\ud800"}, 'body["weird key"]', "lone surrogate"),
        ({"k\x00": 1}, "body", "key contains a NUL"),
        ({"ok": [{"\udfff": 1}]}, "body.ok[0]", "key contains a lone surrogate"),
        ({"n": float("nan")}, "body.n", "JSON cannot represent"),
        ({"n": [float("inf")]}, "body.n[0]", "JSON cannot represent"),
        ({1: "x"}, "body", "non-string key"),
    ],
)
def test_unstorable_values_name_their_path(value: object, path: str, reason_part: str) -> None:
    with pytest.raises(UnstorableValueError) as caught:
        check_storable(value)
    assert caught.value.path == path
    assert reason_part in caught.value.reason
    assert isinstance(caught.value, ValueError)
    assert str(caught.value).startswith(path)


def _nested(levels: int) -> object:
    value: object = "leaf"
    for _ in range(levels):
        value = {"a": value}
    return value


def test_depth_limit_counts_containers() -> None:
    check_storable(_nested(32))
    with pytest.raises(UnstorableValueError) as caught:
        check_storable(_nested(33))
    assert "deeper than 32" in caught.value.reason
    assert caught.value.path == "body" + ".a" * 32
    check_storable([[[1]]], max_depth=3)
    with pytest.raises(UnstorableValueError):
        check_storable([[[[1]]]], max_depth=3, where="metadata")


def test_very_deep_values_do_not_exhaust_the_stack() -> None:
    value: object = 1
    for _ in range(100_000):
        value = [value]
    with pytest.raises(UnstorableValueError, match="deeper than 32"):
        check_storable(value, where="metadata")


def test_sizes() -> None:
    check_storable({"a": "x" * 10}, max_length=10, max_bytes=100)
    with pytest.raises(UnstorableValueError) as caught:
        check_storable({"a": ["x" * 11]}, max_length=10)
    assert caught.value.path == "body.a[0]"
    assert "limit is 10" in caught.value.reason
    with pytest.raises(UnstorableValueError) as caught:
        check_storable({"a": "é" * 30}, max_bytes=40, where="metadata")
    assert caught.value.path == "metadata"
    assert "68 bytes" in caught.value.reason


def test_plain_values_pass() -> None:
    value = {"unicode": "naïve 🎉", "list": [1, 2.5, True, None], "nested": {"x": {"y": []}}}
    check_storable(value)
    check_storable("just text")
    check_storable(None)


class _Body(BaseModel):
    name: StorableStr
    metadata: Annotated[dict[str, Any], storable_json(max_depth=4)] = {}
    env: dict[str, StorableStr] = {}


async def test_request_models_answer_422_naming_the_field() -> None:
    router = APIRouter()

    @router.post("/things")
    async def create(body: _Body) -> dict[str, str]:
        return {"name": body.name}

    app = create_app(ApiSettings.load(service_name="things"), routers=[router])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://local") as client:
        assert (await client.post("/things", json={"name": "ok"})).status_code == 200
        raw = '{"name": "bad \\udfff"}'
        headers = {"content-type": "application/json"}
        answer = await client.post("/things", content=raw, headers=headers)
        assert answer.status_code == 422
        error = answer.json()["errors"][0]
        assert error["loc"] == ["body", "name"]
        assert "lone surrogate" in error["msg"]
        nul = await client.post("/things", json={"name": "a\x00b"})
        assert nul.status_code == 422
        assert "NUL" in nul.json()["errors"][0]["msg"]
        body = json.dumps({"name": "x", "metadata": _nested(5)})
        deep = await client.post("/things", content=body, headers=headers)
        assert deep.status_code == 422
        error = deep.json()["errors"][0]
        assert error["loc"] == ["body", "metadata"]
        assert "value.a.a.a.a" in error["msg"]
        # A bad mapping key is echoed in the error's location: it must not break the answer.
        raw_key = '{"name": "x", "env": {"\\ud800": "a\\u0000"}}'
        bad_key = await client.post("/things", content=raw_key, headers=headers)
        assert bad_key.status_code == 422
        error = bad_key.json()["errors"][0]
        assert error["loc"][:2] == ["body", "env"]
        assert "NUL" in error["msg"]
