"""The API key cache: requests that miss it at the same time share one database read, and a
key revoked through this server is refused at once all the same."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from taskqueue_server.db.tenancy import Role, TenantScope

if TYPE_CHECKING:
    from conftest import NewKey, Serve


async def test_concurrent_requests_missing_the_cache_share_one_key_read(
    serve: Serve, new_key: NewKey, database_url: str
) -> None:
    async with serve(database_url, api_key_cache_seconds=30) as http:
        headers = await new_key(http, "t", Role.ADMIN)
        store = http.app.state.runtime.api_keys  # type: ignore[attr-defined]
        read = store.authenticate
        reads: list[str] = []

        async def counted(key: str) -> TenantScope | None:
            reads.append(key)
            return await read(key)

        store.authenticate = counted
        answers = await asyncio.gather(
            *(http.get("/api/stats", headers=headers) for _ in range(20))
        )
        assert [a.status_code for a in answers] == [200] * 20
        assert len(reads) == 1


async def test_a_key_revoked_here_is_refused_at_once_despite_the_cache(
    serve: Serve, new_key: NewKey, database_url: str
) -> None:
    async with serve(database_url, api_key_cache_seconds=30) as http:
        admin = await new_key(http, "t", Role.ADMIN)
        doomed = await new_key(http, "t", Role.READER)
        assert (await http.get("/api/stats", headers=doomed)).status_code == 200  # now cached
        keys = (await http.get("/api/keys", headers=admin)).json()["keys"]
        [reader] = [k for k in keys if k["role"] == "reader"]
        assert (await http.delete(f"/api/keys/{reader['id']}", headers=admin)).status_code == 204
        answers = await asyncio.gather(*(http.get("/api/stats", headers=doomed) for _ in range(5)))
        assert [a.status_code for a in answers] == [401] * 5
