"""SSRF guard: webhook URLs must be http(s) and resolve only to public addresses, and a
delivery connects to exactly the address that was checked.

The check runs when a subscription is created and again before every delivery (a name can be
re-pointed after it was accepted). :func:`resolve_webhook_target` resolves the host once,
refuses the URL if *any* address is not public, and returns the address to connect to, so a
DNS answer that changes between the check and the connection (DNS rebinding) cannot send the
request elsewhere: the sender connects to that IP and sends the original ``Host`` (and TLS
SNI/certificate name).

Refused besides private, loopback, link-local and unspecified addresses: multicast, reserved
and documentation ranges, shared address space (100.64/10), benchmarking (198.18/15), and every
IPv6 form that embeds or translates an IPv4 address (IPv4-mapped ``::ffff:0:0/96``,
IPv4-compatible ``::/96``, NAT64 ``64:ff9b::/96`` and ``64:ff9b:1::/48``, 6to4 ``2002::/16``,
Teredo ``2001::/32``), because the IPv4 address inside may be a private one.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from taskqueue_server.errors import UnsafeWebhookURLError

__all__ = ["Resolver", "WebhookTarget", "check_webhook_url", "refusal", "resolve_webhook_target"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]
"""Resolves (host, port) to address strings; the system resolver by default."""

_REFUSED: list[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str]] = [
    (ipaddress.ip_network(net), label)
    for net, label in [
        ("0.0.0.0/8", "'this network'"),
        ("100.64.0.0/10", "shared address space (carrier-grade NAT)"),
        ("192.0.0.0/24", "IETF protocol assignments"),
        ("198.18.0.0/15", "benchmarking"),
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved"),
        ("::/96", "IPv4-compatible IPv6"),
        ("::ffff:0:0/96", "IPv4-mapped IPv6"),
        ("64:ff9b::/96", "NAT64"),
        ("64:ff9b:1::/48", "local-use NAT64"),
        ("100::/64", "discard-only"),
        ("2001::/32", "Teredo"),
        ("2001:db8::/32", "documentation"),
        ("2002::/16", "6to4"),
        ("fc00::/7", "unique local"),
        ("fe80::/10", "link-local"),
        ("fec0::/10", "site-local"),
        ("ff00::/8", "multicast"),
    ]
]


def refusal(address: IPAddress) -> str | None:
    """Why a webhook may not be sent to ``address``, or None when it may."""
    if address.is_loopback:
        return "loopback"
    if address.is_unspecified:
        return "unspecified"
    for network, label in _REFUSED:
        if address.version == network.version and address in network:
            return f"{label} ({network})"
    if address.is_multicast:
        return "multicast"
    if address.is_link_local:
        return "link-local"
    if address.is_reserved:
        return "reserved"
    if address.is_private or not address.is_global:
        return "private"
    return None


@dataclass(frozen=True)
class WebhookTarget:
    """Where a delivery goes.

    Attributes:
        url: The URL to request: the webhook URL with its host replaced by ``address``.
        address: The checked IP address it connects to.
        host_header: The ``Host`` header to send (the URL's original host and port).
        server_name: The TLS server name (SNI and certificate check), for https.
    """

    url: str
    address: str
    host_header: str
    server_name: str | None


async def _system_resolve(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def _parts(url: str) -> tuple[SplitResult, str, int]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeWebhookURLError(f"webhook URL {url!r} must be an http:// or https:// URL")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise UnsafeWebhookURLError(f"webhook URL {url!r} has an invalid port") from exc
    return parts, parts.hostname, port


async def resolve_webhook_target(
    url: str, *, allow_private: bool, resolve: Resolver | None = None
) -> WebhookTarget:
    """Resolve ``url``'s host once, check every address, and say where to connect.

    Args:
        url: The webhook URL.
        allow_private: Accept private, loopback and reserved addresses (development, tests).
        resolve: The resolver (the system's by default).

    Returns:
        The target: connect to its ``address`` (IPv4 preferred), with the original host.

    Raises:
        UnsafeWebhookURLError: not http(s), does not resolve, or an address is refused
            (named, with the setting to change).
    """
    parts, host, port = _parts(url)
    try:
        found = await (resolve or _system_resolve)(host, port)
    except OSError as exc:
        raise UnsafeWebhookURLError(
            f"webhook host {host!r} does not resolve ({exc}); use a public host name"
        ) from exc
    addresses: list[IPAddress] = []
    for text in found:
        address = ipaddress.ip_address(text.split("%", 1)[0])
        why = refusal(address)
        if why is not None and not allow_private:
            raise UnsafeWebhookURLError(
                f"webhook host {host!r} resolves to {address}, a {why} address; use a public "
                "URL (or set TASKQUEUE_WEBHOOK_ALLOW_PRIVATE=true in development)",
                address=str(address),
            )
        addresses.append(address)
    if not addresses:
        raise UnsafeWebhookURLError(f"webhook host {host!r} resolves to no address")
    chosen = sorted(addresses, key=lambda a: a.version)[0]
    literal = f"[{chosen}]" if chosen.version == 6 else str(chosen)
    netloc = f"{literal}:{parts.port}" if parts.port else literal
    host_header = parts.netloc.rsplit("@", 1)[-1]  # no credentials in the Host header
    pinned = parts._replace(netloc=netloc).geturl()
    return WebhookTarget(
        url=pinned,
        address=str(chosen),
        host_header=host_header,
        server_name=host if parts.scheme == "https" else None,
    )


async def check_webhook_url(
    url: str, *, allow_private: bool, resolve: Resolver | None = None
) -> None:
    """Refuse ``url`` unless it is http(s) and every address it resolves to is public.

    Args:
        url: The webhook URL.
        allow_private: Accept private, loopback and link-local addresses (development, tests).
        resolve: The resolver (the system's by default).

    Raises:
        UnsafeWebhookURLError: naming the address that was refused and the setting to change.
    """
    if allow_private:
        _parts(url)
        return
    await resolve_webhook_target(url, allow_private=False, resolve=resolve)
