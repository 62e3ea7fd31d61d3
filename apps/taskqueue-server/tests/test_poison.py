"""Input that cannot poison: whatever is answered with an error is not written, and lists,
gets and claims keep working afterwards (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from taskqueue_server.db.tenancy import Role

if TYPE_CHECKING:
    from conftest import NewKey, Serve


def _nested(levels: int) -> Any:
    value: Any = "leaf"
    for _ in range(levels):
        value = {"a": value}
    return value


def _raw(body: dict[str, Any], **raw_fields: str) -> str:
    """``body`` as JSON with some fields spliced in as raw JSON text (e.g. a lone surrogate
    escape, which no JSON encoder writes from a Python string)."""
    text = json.dumps(body)[:-1]
    for name, raw in raw_fields.items():
        text += f', "{name}": {raw}'
    return text + "}"


POISON_TASKS: list[tuple[str, str, str]] = [
    # (case, raw JSON body, the path the 422 must name)
    ("surrogate in name", _raw({"command": "true"}, name='"bad \\udfff"'), "body.name"),
    (
        "surrogate in description",
        _raw({"name": "n", "command": "true"}, description='"\\ud800"'),
        "body.description",
    ),
    (
        "surrogate deep in metadata",
        _raw({"name": "n", "command": "true"}, metadata='{"a": [0, 1, 2, "\\udfff"]}'),
        "body.metadata.a[3]",
    ),
    (
        "surrogate in an environment key",
        _raw({"name": "n", "command": "true"}, environment='{"\\udfff": "x"}'),
        "body.environment",
    ),
    ("NUL in command", json.dumps({"name": "n", "command": "echo \x00"}), "body.command"),
    (
        "NUL in a secret value",
        json.dumps({"name": "n", "command": "true", "secret_environment": {"K": "a\x00"}}),
        "body.secret_environment.K",
    ),
    (
        "metadata nested 254 levels",
        json.dumps({"name": "n", "command": "true", "metadata": _nested(254)}),
        "body.metadata",
    ),
    (
        "command over the length limit",
        json.dumps({"name": "n", "command": "x" * 5_000}),
        "body.command",
    ),
    (
        "environment value over the limit",
        json.dumps({"name": "n", "command": "true", "environment": {"K": "v" * 600}}),
        "body.environment.K",
    ),
    (
        "environment name over the limit",
        json.dumps({"name": "n", "command": "true", "environment": {"K" * 300: "v"}}),
        "body.environment",
    ),
    (
        "batch item with a surrogate",
        '{"tasks": [{"name": "ok", "command": "true"}, {"name": "x", "command": "\\udfff"}]}',
        "body.tasks[1].command",
    ),
]

LIMITS = {
    "max_text_length": 4_000,
    "max_env_value_length": 500,
    "max_json_bytes": 10_000,
}


async def _still_healthy(http: httpx.AsyncClient, key: dict[str, str], expect: int) -> None:
    listed = await http.get("/api/tasks", headers=key)
    assert listed.status_code == 200, listed.text
    assert listed.json()["total"] == expect
    for task in listed.json()["tasks"]:
        assert (await http.get(f"/api/tasks/{task['id']}", headers=key)).status_code == 200
    stats = await http.get("/api/stats", headers=key)
    assert stats.status_code == 200
    assert stats.json()["tasks_total"] == expect


@pytest.mark.parametrize(("case", "raw", "path"), POISON_TASKS, ids=[c[0] for c in POISON_TASKS])
async def test_poison_task_is_refused_and_nothing_is_written(
    serve: Serve, new_key: NewKey, database_url: str, case: str, raw: str, path: str
) -> None:
    async with serve(database_url, **LIMITS) as http:
        key = await new_key(http, "t", Role.ADMIN)
        await http.post("/api/tasks", json={"name": "good", "command": "true"}, headers=key)
        url = "/api/tasks/batch" if case.startswith("batch") else "/api/tasks"
        answer = await http.post(
            url, content=raw, headers={**key, "content-type": "application/json"}
        )
        assert answer.status_code == 422, (case, answer.text)
        problem = answer.json()
        where = ".".join(str(part) for part in problem["errors"][0]["loc"])
        assert re.sub(r"\[(\d+)\]", r".\1", where).startswith(re.sub(r"\[(\d+)\]", r".\1", path)), (
            problem
        )
        await _still_healthy(http, key, expect=1)
        claimed = await http.post(
            "/api/workers/claim", json={"worker_id": "w", "max_tasks": 10}, headers=key
        )
        assert claimed.status_code == 200
        assert [t["name"] for t in claimed.json()["tasks"]] == ["good"]


async def test_limits_name_the_setting(serve: Serve, new_key: NewKey, database_url: str) -> None:
    async with serve(database_url, **LIMITS) as http:
        key = await new_key(http, "t", Role.ADMIN)
        long = await http.post(
            "/api/tasks", json={"name": "n", "command": "x" * 4_001}, headers=key
        )
        assert long.status_code == 422
        assert "TASKQUEUE_MAX_TEXT_LENGTH" in long.json()["detail"]
        assert "4000" in long.json()["detail"]
        big = await http.post(
            "/api/tasks",
            json={
                "name": "n",
                "command": "true",
                "metadata": {"blob": "y" * 3_000} | {f"k{i}": "z" * 1_000 for i in range(8)},
            },
            headers=key,
        )
        assert big.status_code == 422
        assert "TASKQUEUE_MAX_JSON_BYTES" in big.json()["detail"]
        await _still_healthy(http, key, expect=0)


async def test_poison_updates_leave_the_task_unchanged(
    serve: Serve, new_key: NewKey, database_url: str
) -> None:
    async with serve(database_url, **LIMITS) as http:
        key = await new_key(http, "t", Role.ADMIN)
        task = (
            await http.post("/api/tasks", json={"name": "n", "command": "true"}, headers=key)
        ).json()
        headers = {**key, "content-type": "application/json"}
        for raw in (
            '{"command": "rm \\udfff"}',
            json.dumps({"metadata": _nested(300)}),
            json.dumps({"description": "a\x00b"}),
        ):
            answer = await http.patch(f"/api/tasks/{task['id']}", content=raw, headers=headers)
            assert answer.status_code == 422, answer.text
        again = (await http.get(f"/api/tasks/{task['id']}", headers=key)).json()
        assert again["command"] == "true"
        assert again["updated_at"] == task["updated_at"]
        cancel = await http.post(
            f"/api/tasks/{task['id']}/cancel", content='{"reason": "\\udfff"}', headers=headers
        )
        assert cancel.status_code == 422
        assert (await http.get(f"/api/tasks/{task['id']}", headers=key)).json()["status"] == (
            "Pending"
        )
        project = await http.post(
            "/api/projects", content='{"name": "p", "description": "\\udfff"}', headers=headers
        )
        assert project.status_code == 422
        assert (await http.get("/api/projects", headers=key)).json()["total"] == 0
        await _still_healthy(http, key, expect=1)


async def test_worker_output_with_nul_is_kept_as_text(
    serve: Serve, new_key: NewKey, database_url: str
) -> None:
    async with serve(database_url) as http:
        key = await new_key(http, "t", Role.ADMIN)
        await http.post("/api/tasks", json={"name": "n", "command": "true"}, headers=key)
        [task] = (
            await http.post("/api/workers/claim", json={"worker_id": "w"}, headers=key)
        ).json()["tasks"]
        done = await http.post(
            f"/api/tasks/{task['id']}/complete",
            content='{"worker_id": "w", "lease_token": "' + task["lease_token"] + '", '
            '"result": {"exit_code": 0, "stdout": "a\\u0000b"}}',
            headers={**key, "content-type": "application/json"},
        )
        assert done.status_code == 200, done.text
        assert done.json()["result"]["stdout"] == "a\ufffdb"
        bad_error = await http.post(
            f"/api/tasks/{task['id']}/fail",
            content='{"worker_id": "w", "lease_token": "' + task["lease_token"] + '", '
            '"result": {"error": "\\udfff"}}',
            headers={**key, "content-type": "application/json"},
        )
        assert bad_error.status_code == 422
        await _still_healthy(http, key, expect=1)
