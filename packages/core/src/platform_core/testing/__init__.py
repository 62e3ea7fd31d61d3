"""Test support: real-service discovery and the pytest fixtures built on it.

The fixtures (``redis_url``, ``redis_key_prefix``, ``private_redis``, ``redis_cluster_url``,
``postgres_url``, ``elasticsearch_url``, ``es_index_prefix``) are registered automatically
through the ``pytest11`` entry point.
"""

from platform_core.testing.cluster import find_redis_cluster
from platform_core.testing.imports import modules_imported_by, top_level_packages
from platform_core.testing.private import PrivateRedis
from platform_core.testing.services import (
    Service,
    ServiceUnavailableError,
    find_elasticsearch,
    find_postgres,
    find_redis,
    free_port,
    port_open,
    postgres_binary,
    redis_cli_binary,
    redis_server_binary,
    services_required,
)

__all__ = [
    "PrivateRedis",
    "Service",
    "ServiceUnavailableError",
    "find_elasticsearch",
    "find_postgres",
    "find_redis",
    "find_redis_cluster",
    "free_port",
    "modules_imported_by",
    "port_open",
    "postgres_binary",
    "redis_cli_binary",
    "redis_server_binary",
    "services_required",
    "top_level_packages",
]
