"""Settings errors name the environment variable and what it accepts."""

from __future__ import annotations

import pytest

from platform_core.errors import ConfigurationError, PlatformError
from platform_core.redis import RedisSettings


def test_bad_url_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "notaurl")
    with pytest.raises(ConfigurationError) as info:
        RedisSettings.load()
    assert info.value.setting == "REDIS_URL"
    assert "REDIS_URL" in str(info.value)
    assert "redis://" in str(info.value)  # says what it accepts
    assert isinstance(info.value, PlatformError)


def test_negative_pool_size_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_POOL_SIZE", "-3")
    with pytest.raises(ConfigurationError) as info:
        RedisSettings.load()
    assert info.value.setting == "REDIS_POOL_SIZE"
    assert "greater than 0" in str(info.value)


def test_every_bad_variable_is_listed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "http://x")
    monkeypatch.setenv("REDIS_SOCKET_TIMEOUT", "soon")
    with pytest.raises(ConfigurationError) as info:
        RedisSettings.load()
    assert "REDIS_URL" in str(info.value)
    assert "REDIS_SOCKET_TIMEOUT" in str(info.value)


def test_valid_environment_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "rediss://:s3cret@cache.internal:6380/2")
    monkeypatch.setenv("REDIS_POOL_SIZE", "7")
    settings = RedisSettings.load()
    assert settings.pool_size == 7
    assert "s3cret" not in settings.redacted_url()
    assert settings.redacted_url() == "rediss://:***@cache.internal:6380/2"
