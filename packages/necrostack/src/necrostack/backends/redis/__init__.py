"""The Redis Streams backend (extra ``necrostack[redis]``)."""

from necrostack.backends.redis.admin import (
    ConsumerStats,
    DeadLetterEntry,
    StreamAdmin,
    StreamStats,
)
from necrostack.backends.redis.backend import RedisBackend
from necrostack.backends.redis.settings import RedisBackendSettings

__all__ = [
    "ConsumerStats",
    "DeadLetterEntry",
    "RedisBackend",
    "RedisBackendSettings",
    "StreamAdmin",
    "StreamStats",
]
