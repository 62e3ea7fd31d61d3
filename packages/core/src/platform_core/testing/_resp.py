"""A minimal RESP2 client so the fixtures can talk to Redis without the redis extra."""

from __future__ import annotations

import socket
from typing import Any
from urllib.parse import unquote, urlsplit


class RespClient:
    """A blocking, single-connection Redis client for fixture housekeeping only."""

    def __init__(self, url: str, timeout: float = 2.0) -> None:
        parts = urlsplit(url)
        self._sock = socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or 6379), timeout=timeout
        )
        self._file = self._sock.makefile("rb")
        if parts.password:
            user = unquote(parts.username) if parts.username else None
            auth = [user, unquote(parts.password)] if user else [unquote(parts.password)]
            self.command("AUTH", *auth)
        db = parts.path.strip("/")
        if db:
            self.command("SELECT", db)

    def command(self, *args: str | bytes | int) -> Any:
        """Send one command and return its decoded reply; raises RuntimeError on -ERR."""
        out = [f"*{len(args)}\r\n".encode()]
        for arg in args:
            data = arg if isinstance(arg, bytes) else str(arg).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(data), data))
        self._sock.sendall(b"".join(out))
        return self._read()

    def _read(self) -> Any:
        line = self._file.readline()
        if not line:
            raise ConnectionError("redis closed the connection")
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RuntimeError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            size = int(rest)
            if size < 0:
                return None
            data = self._file.read(size + 2)[:-2]
            return data
        if kind == b"*":
            count = int(rest)
            return None if count < 0 else [self._read() for _ in range(count)]
        raise RuntimeError(f"unexpected RESP reply {line!r}")

    def delete_prefix(self, prefix: str) -> int:
        """Delete every key starting with ``prefix``; returns how many were deleted."""
        cursor, deleted = "0", 0
        while True:
            cursor_b, keys = self.command("SCAN", cursor, "MATCH", f"{prefix}*", "COUNT", 1000)
            if keys:
                deleted += int(self.command("DEL", *keys))
            cursor = cursor_b.decode()
            if cursor == "0":
                return deleted

    def close(self) -> None:
        """Close the connection."""
        self._file.close()
        self._sock.close()
