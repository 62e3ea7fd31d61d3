"""The optional aiohttp transport (``taskqueue-sdk[aiohttp]``) for many concurrent calls.

Selected with ``AsyncTaskQueueClient(transport="aiohttp")``. It sends the same requests as the
httpx transport and reports answers and failures in the same shape, so errors, retries,
authentication and timeouts behave identically; only the HTTP stack differs. aiohttp's
per-request cost is a fraction of httpx's, which shows at a thousand calls in flight.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from taskqueue._base import Options
from taskqueue._http import RawResponse, TransportError

if TYPE_CHECKING:
    import aiohttp

__all__ = ["AiohttpTransport", "require_aiohttp"]


def require_aiohttp() -> Any:
    """Import aiohttp, or say which extra installs it.

    Raises:
        ImportError: naming ``taskqueue-sdk[aiohttp]`` when aiohttp is not installed.
    """
    try:
        import aiohttp
    except ImportError as exc:
        raise ImportError(
            "transport='aiohttp' needs aiohttp: install the extra with "
            "pip install 'taskqueue-sdk[aiohttp]' (or use the default transport='httpx')"
        ) from exc
    return aiohttp


class AiohttpTransport:
    """Sends requests through one ``aiohttp.ClientSession``, created at the first request
    (a session belongs to the event loop it was made in).

    Args:
        opts: The client's resolved options (base URL, headers, timeout, pool size).
    """

    name = "aiohttp"

    def __init__(self, opts: Options) -> None:
        self._aiohttp = require_aiohttp()
        self._opts = opts
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        aio = self._aiohttp
        seconds = self._opts.timeout.read
        # As with httpx: each phase (waiting for a pooled connection and connecting, then
        # each read) gets the whole budget; there is no overall deadline.
        timeout = aio.ClientTimeout(total=None, connect=seconds, sock_read=seconds)
        connector = aio.TCPConnector(limit=self._opts.limits.max_connections or 0, limit_per_host=0)
        session: aiohttp.ClientSession = aio.ClientSession(
            headers=self._opts.headers,
            timeout=timeout,
            connector=connector,
            raise_for_status=False,
            auto_decompress=True,
        )
        return session

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
        aio = self._aiohttp
        if self._session is None:
            self._session = self._open()
        url = self._opts.base_url + path
        extra: dict[str, Any] = {}
        if extra_timeout and self._opts.timeout.read is not None:
            # A held call (long-poll claim) reads longer; passing timeout=None would mean none.
            seconds = self._opts.timeout.read
            extra["timeout"] = aio.ClientTimeout(
                total=None, connect=seconds, sock_read=seconds + extra_timeout
            )
        try:
            async with self._session.request(
                method, url, data=content, params=params, headers=headers, **extra
            ) as response:
                body = await response.read()
                return RawResponse(response.status, response.headers, body, response.reason or "")
        except aio.ClientConnectorError as exc:
            raise TransportError("connect", str(exc)) from exc
        except aio.ConnectionTimeoutError as exc:
            # aiohttp's connect timeout also covers waiting for a pooled connection; in both
            # cases nothing was sent.
            raise TransportError("connect", "connect timeout") from exc
        except TimeoutError as exc:
            raise TransportError("timeout", type(exc).__name__) from exc
        except aio.ClientError as exc:
            raise TransportError("other", str(exc) or type(exc).__name__) from exc

    async def aclose(self) -> None:
        """Close the session and its connections."""
        if self._session is not None:
            await self._session.close()
            self._session = None
