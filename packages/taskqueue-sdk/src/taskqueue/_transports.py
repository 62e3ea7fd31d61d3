"""Which transport a client sends through: ``transport="httpx"`` (default) or ``"aiohttp"``."""

from __future__ import annotations

from typing import Protocol

import httpx

from taskqueue._async_httpx import AsyncHttpxTransport
from taskqueue._base import Options
from taskqueue._http import RawResponse
from taskqueue._sync_httpx import SyncHttpxTransport

__all__ = ["TRANSPORTS", "AsyncTransport", "SyncTransport", "async_transport", "sync_transport"]

TRANSPORTS = ("httpx", "aiohttp")
"""The names ``transport=`` accepts."""


class AsyncTransport(Protocol):
    """What the async client needs from an HTTP stack."""

    name: str

    async def request(
        self,
        method: str,
        path: str,
        content: bytes | None,
        params: dict[str, str] | None,
        headers: dict[str, str],
        extra_timeout: float = 0.0,
    ) -> RawResponse:
        """Send one request; raise ``TransportError`` when no answer came.

        ``extra_timeout`` stretches the read timeout for a call the server may hold (a
        long-poll claim).
        """

    async def aclose(self) -> None:
        """Release the connections."""


class SyncTransport(Protocol):
    """What the sync client needs from an HTTP stack."""

    name: str

    def request(
        self,
        method: str,
        path: str,
        content: bytes | None,
        params: dict[str, str] | None,
        headers: dict[str, str],
        extra_timeout: float = 0.0,
    ) -> RawResponse:
        """Send one request; raise ``TransportError`` when no answer came.

        ``extra_timeout`` stretches the read timeout for a call the server may hold (a
        long-poll claim).
        """

    def close(self) -> None:
        """Release the connections."""


def _check(name: str, http_client: object) -> None:
    if name not in TRANSPORTS:
        raise ValueError(f"transport must be one of {', '.join(TRANSPORTS)}; got {name!r}")
    if name != "httpx" and http_client is not None:
        raise ValueError(f"http_client= is an httpx client; it cannot be used with {name!r}")


def async_transport(
    name: str | None, opts: Options, http_client: httpx.AsyncClient | None
) -> AsyncTransport:
    """The async transport called ``name`` (``TASKQUEUE_TRANSPORT``'s when None).

    Raises:
        ValueError: an unknown name, or ``http_client`` given with a non-httpx transport.
        ImportError: ``"aiohttp"`` without the ``taskqueue-sdk[aiohttp]`` extra.
    """
    name = name or ("httpx" if http_client is not None else opts.transport)
    _check(name, http_client)
    if name == "aiohttp":
        from taskqueue._aiohttp import AiohttpTransport

        return AiohttpTransport(opts)
    return AsyncHttpxTransport(opts, http_client)


def sync_transport(
    name: str | None, opts: Options, http_client: httpx.Client | None
) -> SyncTransport:
    """The sync transport called ``name`` (only httpx, also when None: aiohttp has no
    blocking API, so ``TASKQUEUE_TRANSPORT`` does not apply).

    Raises:
        ValueError: an unknown name, or ``"aiohttp"``, which is async-only.
    """
    name = name or "httpx"
    _check(name, http_client)
    if name == "aiohttp":
        raise ValueError(
            "transport='aiohttp' is async-only; use AsyncTaskQueueClient for it, or "
            "transport='httpx' with TaskQueueClient"
        )
    return SyncHttpxTransport(opts, http_client)
