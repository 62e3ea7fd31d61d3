"""The floor of a request that commits one row: a bare ASGI app on uvicorn (uvloop, httptools,
as the services run) whose only work for a ``POST`` is one ``INSERT`` of the body through an
asyncpg pool, committed (``synchronous_commit`` as the server has it), then ``202``.

A service's write latency cannot beat this on the same machine and database: what is left
above it is the service's own work. Run as a process of its own::

    python -m benchmarks.commit_floor --port 8099 --dsn postgresql://postgres@127.0.0.1/test
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

__all__ = ["main"]

Message = MutableMapping[str, Any]
_ANSWER = b'{"accepted":true}'
_HEADERS = [
    (b"content-type", b"application/json"),
    (b"content-length", str(len(_ANSWER)).encode()),
]


def _app(dsn: str, pool_size: int) -> Callable[..., Awaitable[None]]:
    import asyncpg

    pool: Any = None

    async def app(
        scope: Message, receive: Callable[[], Awaitable[Message]], send: Callable[..., Any]
    ) -> None:
        nonlocal pool
        if scope["type"] == "lifespan":
            await receive()  # lifespan.startup
            pool = await asyncpg.create_pool(dsn, min_size=pool_size, max_size=pool_size)
            await pool.execute(
                "CREATE TABLE IF NOT EXISTS commit_floor (id bigserial PRIMARY KEY, body text)"
            )
            await send({"type": "lifespan.startup.complete"})
            await receive()  # lifespan.shutdown
            await pool.close()
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        status = 200
        if scope["method"] == "POST":
            await pool.execute("INSERT INTO commit_floor (body) VALUES ($1)", body.decode())
            status = 202
        await send({"type": "http.response.start", "status": status, "headers": _HEADERS})
        await send({"type": "http.response.body", "body": _ANSWER})

    return app


def main(argv: list[str] | None = None) -> None:
    """Serve the floor app until terminated."""
    import uvicorn

    parser = argparse.ArgumentParser(prog="python -m benchmarks.commit_floor")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--pool-size", type=int, default=8)
    args = parser.parse_args(argv)
    uvicorn.run(
        _app(args.dsn, args.pool_size),
        host="127.0.0.1",
        port=args.port,
        log_config=None,
        access_log=False,
    )


if __name__ == "__main__":
    main()
