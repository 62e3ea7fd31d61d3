"""Claim and lease renewal on a thread of its own, with a connection of its own.

A consumer holding entries must reset their idle time (and keep its partition leases) more
often than ``claim_idle_ms``, or another consumer reclaims them and runs them too. Renewing
from the event loop stops whenever the loop does: an ``async def`` handler that calls
``time.sleep`` or does CPU work holds the loop, and its own event was run twice. So the
renewal runs on a daemon thread with a synchronous client built from the backend's own
connection settings; a blocked loop cannot stop it.

The thread reads what the consumer holds (prefetched, in flight, handled but not acked) as a
snapshot taken by the loop's data structures' C-level copies (``list(deque)``,
``list(dict.values())``), which never interleave with the loop's updates under the GIL. A
snapshot may be a moment stale: renewing an entry already acked is a no-op (it is no longer
pending), and one already taken by another consumer is left alone (REFRESH_CLAIMS checks the
owner), so staleness costs nothing.
"""

from __future__ import annotations

import inspect
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from necrostack.backends.redis._scripts import REFRESH_CLAIMS, RENEW_LEASE
from platform_core.logging import get_logger

__all__ = ["Held", "Renewer", "held_by", "sync_twin"]

_log = get_logger("necrostack.backends.redis")
_SOCKET_TIMEOUT = 5.0  # seconds, when the async client sets none: a call must end

# (stream key, entry ids held) per partition, and the lease keys of partitions held
Held = tuple[list[tuple[str, list[bytes]]], list[str]]


def sync_twin(client: Any) -> Any:
    """A synchronous client to the server(s) of the async ``client``, with its settings.

    Supports ``redis.asyncio.Redis`` (TCP, TLS or a Unix socket) and
    ``redis.asyncio.cluster.RedisCluster``.

    Raises:
        TypeError: ``client`` is neither.
    """
    import redis
    from redis.asyncio import connection as aconn
    from redis.asyncio.cluster import RedisCluster as AsyncCluster

    if isinstance(client, AsyncCluster):
        from redis.cluster import ClusterNode, RedisCluster

        nodes = [ClusterNode(n.host, n.port) for n in client.get_nodes()]  # type: ignore[no-untyped-call]
        kwargs = _sync_kwargs(client.connection_kwargs, redis.Connection)
        return RedisCluster(startup_nodes=nodes, **kwargs)
    pool = getattr(client, "connection_pool", None)
    kinds = {
        aconn.SSLConnection: redis.SSLConnection,
        aconn.UnixDomainSocketConnection: redis.UnixDomainSocketConnection,
        aconn.Connection: redis.Connection,
    }
    found = pool.connection_class if pool is not None else None
    kind = next((k for a, k in kinds.items() if found and issubclass(found, a)), None)
    if pool is None or kind is None:
        raise TypeError(f"cannot open a second connection like {type(client).__name__}'s")
    kwargs = _sync_kwargs(pool.connection_kwargs, kind)
    return redis.Redis(connection_pool=redis.ConnectionPool(connection_class=kind, **kwargs))


def _sync_kwargs(found: dict[str, Any], kind: type[Any]) -> dict[str, Any]:
    """The connection settings a synchronous ``kind`` accepts; the async retry policy,
    parser and callbacks are left out (the renewer retries on its next round)."""
    from redis.connection import AbstractConnection

    accepted = {
        name for cls in (kind, AbstractConnection) for name in inspect.signature(cls).parameters
    } - {"retry", "redis_connect_func", "parser_class", "command_packer", "event_dispatcher"}
    kwargs = {k: v for k, v in found.items() if k in accepted}
    if kwargs.get("socket_timeout") is None:
        kwargs["socket_timeout"] = _SOCKET_TIMEOUT
    if kwargs.get("socket_connect_timeout") is None:
        kwargs["socket_connect_timeout"] = _SOCKET_TIMEOUT
    return kwargs


class Renewer:
    """Renews a consumer's claims, partition leases and membership from a daemon thread.

    Args:
        client: The synchronous client (owned: closed when the thread ends).
        held: Returns what the consumer holds now; called on the thread.
        group: The consumer group.
        consumer: This consumer's name.
        interval: Seconds between renewals.
        members_key: The sorted set of live consumers (partitioned layout), else ``None``.
        lease_ms: How long a partition lease lives without renewal.
        alive: Whether the consumer's event loop still runs (a blocked loop does); the thread
            ends when it does not, so a backend never closed holds nothing past its loop.
    """

    def __init__(
        self,
        client: Any,
        held: Callable[[], Held],
        *,
        group: str,
        consumer: str,
        interval: float,
        members_key: str | None,
        lease_ms: int,
        alive: Callable[[], bool],
    ) -> None:
        self.client = client
        self.held = held
        self.group = group
        self.consumer = consumer
        self.interval = interval
        self.members_key = members_key
        self.lease_ms = lease_ms
        self.alive = alive
        self._refresh = client.register_script(REFRESH_CLAIMS)
        self._renew_lease = client.register_script(RENEW_LEASE)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"necrostack-renew-{consumer}")
        self._thread.daemon = True
        self._failing = False

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    def stop(self, timeout: float) -> bool:
        """Stop renewing; ``False`` when the thread was still in a call after ``timeout``
        seconds (it ends, and closes its connection, when that call does)."""
        self._stopping.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        return not self._thread.is_alive()

    def renew(self) -> None:
        """One round: refresh the held entries, then heartbeat and keep the leases."""
        streams, leases = self.held()
        for stream, ids in streams:
            self._refresh(keys=[stream], args=[self.group, self.consumer, *ids])
        if self.members_key is not None:
            self.client.zadd(self.members_key, {self.consumer: int(time.time() * 1000)})
            for owner in leases:
                self._renew_lease(keys=[owner], args=[self.consumer, self.lease_ms])

    def _run(self) -> None:
        try:
            while not self._stopping.wait(self.interval) and self.alive():
                self._round()
        finally:
            self.client.close()

    def _round(self) -> None:
        try:
            self.renew()
        except Exception as exc:  # Redis away: the next round tries again
            if not self._failing:
                _log.warning("claim renewal failed", consumer=self.consumer, error=repr(exc))
            self._failing = True
        else:
            if self._failing:
                _log.info("claim renewal works again", consumer=self.consumer)
            self._failing = False


def held_by(
    parts: Sequence[Any], buffer: Callable[[], Any], inflight: Callable[[], Any]
) -> Callable[[], Held]:
    """The snapshot function for a consumer's partitions, prefetched buffer and in-flight map."""

    def snapshot() -> Held:
        # Each copy is one C call: it completes without the loop thread running in between.
        ready = list(buffer())
        running = list(inflight().values())
        streams = []
        leases = []
        for part in parts:
            index = part.keys.index
            ids = [d.entry_id for d in ready if d.part == index]
            ids += [d.entry_id for d in running if d.part == index]
            ids += list(part.to_ack)
            if ids:
                streams.append((part.keys.stream, ids))
            if part.owned:
                leases.append(part.keys.owner)
        return streams, leases

    return snapshot
