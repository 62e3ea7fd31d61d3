"""The async client's default transport: an ``httpx.AsyncClient`` and its pool."""

from __future__ import annotations

import httpx

from taskqueue._base import Options
from taskqueue._http import RawResponse, httpx_failure, stretched


class AsyncHttpxTransport:
    """Sends requests through ``httpx.AsyncClient``.

    Args:
        opts: The client's resolved options (base URL, headers, timeout, pool size).
        http_client: Use this client instead of creating one; it is then not closed here
            (the caller owns it), and only the headers are added to it.
    """

    name = "httpx"

    def __init__(self, opts: Options, http_client: httpx.AsyncClient | None = None) -> None:
        self._owns_http = http_client is None
        if http_client is None:
            http_client = httpx.AsyncClient(
                base_url=opts.base_url,
                headers=opts.headers,
                timeout=opts.timeout,
                limits=opts.limits,
            )
        else:
            http_client.headers.update(opts.headers)
        self._http = http_client

    async def request(
        self,
        method: str,
        path: str,
        content: bytes | None,
        params: dict[str, str] | None,
        headers: dict[str, str],
        extra_timeout: float = 0.0,
    ) -> RawResponse:
        """Send one request and read the whole answer.

        Raises:
            TransportError: when no HTTP answer came (classified for the retry decision).
        """
        try:
            response = await self._http.request(
                method,
                path,
                content=content,
                params=params,
                headers=headers,
                timeout=stretched(self._http.timeout, extra_timeout),
            )
        except httpx.TransportError as exc:
            raise httpx_failure(exc) from exc
        return RawResponse(
            response.status_code, response.headers, response.content, response.reason_phrase
        )

    async def aclose(self) -> None:
        """Close the pool (unless the ``httpx`` client was passed in)."""
        if self._owns_http:
            await self._http.aclose()
