"""Where the node may connect: the address policy and the httpx transport that enforces it (SSRF guard).

A DID or a status list URL comes from a credential someone else wrote, so every outbound request is checked
before a socket opens (SECURITY D1, D7, S7): ``https`` only (``http`` only to loopback in ``dev_mode``); no
private, link-local, shared, reserved, multicast, unspecified or IPv4-mapped address, nor a public-looking IPv6
address that embeds a forbidden IPv4 one (6to4, NAT64); loopback only in ``dev_mode``. The host is resolved once,
every address it resolves to must pass, and the connection goes to one of those checked addresses — the Host
header and TLS SNI (and so certificate checking) keep the name — so that a second DNS answer cannot point the
connection elsewhere (DNS rebinding). Each hop of a redirect comes through the transport again.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from typing import ClassVar

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Sequence[str]]
"""``resolve(host, port)`` → the addresses of ``host`` as strings (``socket.getaddrinfo`` by default)."""

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_MAX_ADDRESSES = 4
NOT_PUBLIC = "the host does not resolve to a public address"


class FetchError(Exception):
    """An outbound fetch that failed; the message is safe to show to whoever asked for the fetch."""

    code: ClassVar[str] = "fetch_failed"


class DestinationRefused(FetchError):
    """The URL's scheme, host or addresses are not allowed; nothing was sent."""

    code = "destination_refused"


def system_resolver(host: str, port: int) -> list[str]:
    """All addresses of ``host`` for a TCP connection, in the system's order, without duplicates."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def address_refusal(address: IPAddress, *, dev_mode: bool) -> str | None:
    """Why the node must not connect to ``address``, or ``None`` when it may."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return "an IPv4-mapped IPv6 address"
        embedded = address.sixtofour or (
            ipaddress.IPv4Address(int(address) & 0xFFFFFFFF) if address in _NAT64 else None
        )
        if embedded is not None and address_refusal(embedded, dev_mode=False):
            return "an IPv6 address embedding a non-public IPv4 address"
    if address.is_loopback:
        return None if dev_mode else "a loopback address"
    checks = (
        (address.is_unspecified, "an unspecified address"),
        (address.is_multicast, "a multicast address"),
        (address.is_link_local, "a link-local address"),
        (address.is_private, "a private address"),
        (address.is_reserved, "a reserved address"),
        (not address.is_global, "a non-public address"),
    )
    return next((reason for refused, reason in checks if refused), None)


class DestinationGuard:
    """Checks a URL and resolves its host once into the addresses the node may connect to."""

    def __init__(self, *, dev_mode: bool, resolver: Resolver = system_resolver) -> None:
        self.dev_mode = dev_mode
        self._resolver = resolver

    def check_url(self, url: httpx.URL) -> None:
        """Refuse a URL by its form alone, before any DNS query."""
        if url.scheme not in ("https", "http"):
            raise DestinationRefused(f"only https URLs are fetched, not {url.scheme or 'relative'} URLs")
        if url.scheme == "http" and not self.dev_mode:
            raise DestinationRefused("plain http is refused; the URL must use https")
        if not url.raw_host or url.userinfo:
            raise DestinationRefused("the URL must name a host and carry no user name or password")

    def addresses(self, url: httpx.URL) -> list[str]:
        """The checked addresses to connect to; :class:`DestinationRefused` if any address is forbidden."""
        self.check_url(url)
        host = url.raw_host.decode("ascii")
        port = url.port or (443 if url.scheme == "https" else 80)
        literal = _literal(host)
        if literal is not None:
            reason = address_refusal(literal, dev_mode=self.dev_mode)
            if reason:
                raise DestinationRefused(f"the URL points at {reason}")
            candidates = [literal]
        else:
            try:
                candidates = [ipaddress.ip_address(a.split("%", 1)[0]) for a in self._resolver(host, port)]
            except (OSError, ValueError, UnicodeError):
                raise DestinationRefused(NOT_PUBLIC) from None
            if not candidates or any(address_refusal(a, dev_mode=self.dev_mode) for a in candidates):
                raise DestinationRefused(NOT_PUBLIC)
        if url.scheme == "http" and not all(a.is_loopback for a in candidates):
            raise DestinationRefused("plain http is allowed only to loopback, in development mode")
        return [str(a) for a in candidates[:_MAX_ADDRESSES]]


class PinnedTransport(httpx.BaseTransport):
    """An httpx transport that connects only to addresses :class:`DestinationGuard` checked, keeping the name.

    The request goes to the checked IP; the ``Host`` header stays the name and ``sni_hostname`` makes TLS
    send and verify the name. ``inner`` must not keep connections alive: a kept connection to an IP could be
    reused for another name served at the same address without its certificate being checked for that name.
    """

    def __init__(self, guard: DestinationGuard, inner: httpx.BaseTransport) -> None:
        self._guard = guard
        self._inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        addresses = self._guard.addresses(request.url)
        name = request.url.raw_host.decode("ascii")
        for position, address in enumerate(addresses):
            pinned = httpx.Request(
                request.method,
                request.url.copy_with(host=address),
                headers=request.headers,
                stream=request.stream,
                extensions={**request.extensions, "sni_hostname": name},
            )
            try:
                return self._inner.handle_request(pinned)
            except httpx.ConnectError:
                if position == len(addresses) - 1:
                    raise
        raise DestinationRefused(NOT_PUBLIC)  # unreachable: addresses is never empty

    def close(self) -> None:
        self._inner.close()


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
