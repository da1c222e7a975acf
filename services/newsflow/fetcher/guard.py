"""SSRF guard: which URLs the fetcher may request at all.

Feeds are written by strangers, and a feed entry, a sitemap or a redirect can point anywhere —
including the cloud metadata service or an admin port on the fetcher's own network. So every
URL, and every redirect hop, is checked before a request: the scheme must be http(s) and every
address the host resolves to must be globally routable, unless it lies in an explicitly allowed
network (``NEWSFLOW_FETCH_ALLOW_NETWORKS``). The connected peer is checked again after connecting
(``check_peer``), and the connection itself is made by ``PinnedBackend`` (the network backend
of fetcher/transport.py) to an address it checked, so a DNS-rebinding server has no window
between check and connect.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

import httpcore
from httpcore import SOCKET_OPTION as SocketOption

from newsflow.errors import BlockedURL

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(text: str) -> tuple[IPNetwork, ...]:
    """Comma-separated CIDRs; raises ValueError naming the bad entry."""
    networks = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError as exc:
            raise ValueError(f"NEWSFLOW_FETCH_ALLOW_NETWORKS: {part!r} is not a CIDR (several "
                             "are separated by commas: 127.0.0.0/8,10.0.0.0/8)") from exc
    return tuple(networks)


def forbidden_reason(address: IPAddress, allowed: tuple[IPNetwork, ...]) -> str | None:
    """Why this address may not be contacted, or None when it may."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    if any(address in network for network in allowed):
        return None
    if address.is_loopback:
        return "loopback address"
    if address.is_link_local:
        return "link-local address (includes cloud metadata 169.254.169.254)"
    if address.is_private:
        return "private address"
    if address.is_multicast or address.is_unspecified or address.is_reserved:
        return "reserved address"
    if not address.is_global:
        return "non-global address"
    return None


def split_target(url: str) -> tuple[str, int]:
    """(host, port) of an http(s) URL; BlockedURL for any other scheme or a missing host."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise BlockedURL(f"{url}: scheme {parts.scheme!r} is not http or https")
    try:
        host, port = parts.hostname, parts.port
    except ValueError as exc:
        raise BlockedURL(f"{url}: bad port") from exc
    if not host:
        raise BlockedURL(f"{url}: no host")
    return host, port or (443 if parts.scheme == "https" else 80)


class AddressGuard:
    def __init__(self, allow_networks: str) -> None:
        self.allowed = parse_networks(allow_networks)

    async def check(self, url: str) -> None:
        """Raise BlockedURL unless every address of the URL's host may be contacted."""
        host, port = split_target(url)
        await self.addresses(host, port, url)

    async def addresses(self, host: str, port: int, url: str) -> list[str]:
        """The host's addresses, all checked; BlockedURL if any of them is forbidden."""
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            # Not blocked: an unresolvable host is an ordinary (retryable) fetch failure.
            raise ConnectionError(f"{url}: cannot resolve {host}: {exc}") from exc
        found = list(dict.fromkeys(str(info[4][0]) for info in infos))
        for address in found:
            self._check_address(url, address)
        return found

    def check_peer(self, url: str, peer: str) -> None:
        """The address actually connected to must pass too (DNS may have changed since)."""
        self._check_address(url, peer)

    def _check_address(self, url: str, text: str) -> None:
        address = ipaddress.ip_address(text.split("%")[0])
        reason = forbidden_reason(address, self.allowed)
        if reason:
            raise BlockedURL(f"{url}: refused {address} ({reason}); allow it with "
                             "NEWSFLOW_FETCH_ALLOW_NETWORKS")


class PinnedBackend(httpcore.AsyncNetworkBackend):
    """The network backend under httpx: resolves names itself, checks every address with the
    guard and connects to the checked address — so what was checked is what is connected to,
    and a DNS answer that changes between check and connect (rebinding) cannot slip through.
    TLS still verifies and sends SNI for the original host name (httpcore passes it apart)."""

    def __init__(self, guard: AddressGuard, inner: httpcore.AsyncNetworkBackend | None = None
                 ) -> None:
        self.guard = guard
        self.inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: Iterable[SocketOption] | None = None
                          ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await self.guard.addresses(host, port, f"{host}:{port}")
        except ConnectionError as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        error: Exception | None = None
        for address in addresses:
            try:
                return await self.inner.connect_tcp(address, port, timeout, local_address,
                                                    socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        assert error is not None
        raise error

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Iterable[SocketOption] | None = None
                                  ) -> httpcore.AsyncNetworkStream:
        raise BlockedURL(f"unix socket {path}: not a web address")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)

