"""SSRF guard: webhook URLs must be http(s) and resolve only to public addresses.

The check runs when a subscription is created and again before every delivery, because a name
can be re-pointed after it was accepted.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from taskqueue_server.errors import UnsafeWebhookURLError

__all__ = ["check_webhook_url"]


async def check_webhook_url(url: str, *, allow_private: bool) -> None:
    """Refuse ``url`` unless it is http(s) and every address it resolves to is public.

    Args:
        url: The webhook URL.
        allow_private: Accept private, loopback and link-local addresses (development, tests).

    Raises:
        UnsafeWebhookURLError: naming the address that was refused and the setting to change.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeWebhookURLError(f"webhook URL {url!r} must be an http:// or https:// URL")
    if allow_private:
        return
    host = parts.hostname
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise UnsafeWebhookURLError(f"webhook URL {url!r} has an invalid port") from exc
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise UnsafeWebhookURLError(
            f"webhook host {host!r} does not resolve ({exc}); use a public host name"
        ) from exc
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if not address.is_global:
            raise UnsafeWebhookURLError(
                f"webhook host {host!r} resolves to {address}, a private, loopback or reserved "
                "address; use a public URL (or set TASKQUEUE_WEBHOOK_ALLOW_PRIVATE=true in "
                "development)",
                address=str(address),
            )
