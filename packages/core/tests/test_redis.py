"""create_redis against real Redis: commands, reconnect after CLIENT KILL, and a dead server."""

from __future__ import annotations

import pytest

from platform_core.errors import DependencyUnavailableError
from platform_core.redis import RedisSettings, create_redis, ping, wrap_redis_errors
from platform_core.testing import free_port


async def test_commands_and_ping(redis_url: str, redis_key_prefix: str) -> None:
    client = create_redis(RedisSettings(url=redis_url))
    try:
        assert await ping(client) >= 0
        await client.set(f"{redis_key_prefix}k", b"v")
        assert await client.get(f"{redis_key_prefix}k") == b"v"
    finally:
        await client.aclose()


async def test_reconnects_after_client_kill(redis_url: str, redis_key_prefix: str) -> None:
    client = create_redis(RedisSettings(url=redis_url, retry_attempts=3))
    admin = create_redis(RedisSettings(url=redis_url))
    try:
        await client.client_setname(f"{redis_key_prefix.strip(':')}victim")
        await client.set(f"{redis_key_prefix}before", b"1")
        my_id = await client.client_id()
        killed = await admin.client_kill_filter(_id=my_id)
        assert killed == 1
        # The pooled connection is dead; the next command must reconnect transparently.
        await client.set(f"{redis_key_prefix}after", b"2")
        assert await client.get(f"{redis_key_prefix}after") == b"2"
        assert await client.client_id() != my_id
    finally:
        await client.aclose()
        await admin.aclose()


async def test_down_server_raises_dependency_unavailable_after_retries() -> None:
    port = free_port()
    settings = RedisSettings(
        url=f"redis://127.0.0.1:{port}/0",
        retry_attempts=2,
        retry_backoff_base=0.01,
        connect_timeout=0.5,
    )
    client = create_redis(settings)
    try:
        with pytest.raises(DependencyUnavailableError) as info:
            await ping(client)
        assert info.value.service == "redis"
        assert "REDIS_URL" in str(info.value)
        import redis.exceptions

        assert isinstance(info.value.__cause__, redis.exceptions.ConnectionError)
    finally:
        await client.aclose()


async def test_wrap_redis_errors_keeps_other_errors(redis_url: str) -> None:
    import redis.exceptions

    client = create_redis(RedisSettings(url=redis_url))
    try:
        with pytest.raises(redis.exceptions.ResponseError), wrap_redis_errors("BOGUS"):
            await client.execute_command("NOSUCHCOMMAND")
    finally:
        await client.aclose()
