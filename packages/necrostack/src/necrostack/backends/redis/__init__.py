"""The Redis Streams backend (extra ``necrostack[redis]``)."""

from necrostack.backends.redis.admin import (
    ConsumerStats,
    DeadLetterEntry,
    GroupStats,
    PartitionStats,
    StreamAdmin,
    StreamStats,
)
from necrostack.backends.redis.backend import RedisBackend, create_client
from necrostack.backends.redis.settings import RedisBackendSettings

__all__ = [
    "ConsumerStats",
    "DeadLetterEntry",
    "GroupStats",
    "PartitionStats",
    "RedisBackend",
    "RedisBackendSettings",
    "StreamAdmin",
    "StreamStats",
    "create_client",
]
