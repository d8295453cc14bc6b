"""Where a notification may go: the SSRF guard.

A ``notifyUrl`` comes from a merchant's request, so it may name anything our
gateway can reach: its own admin ports, the database, the cloud's metadata
service. The guard resolves the host **once**, refuses the request if any
address it resolves to is not a public one, and hands back the address to
connect to, so a DNS answer that changes between the check and the connection
(rebinding) cannot slip past.

Refused unless the deployment allows them: private (RFC 1918, unique-local
``fc00::/7``), loopback, link-local (``169.254/16``, ``fe80::/10``) and shared
(``100.64/10``) addresses. Always refused: the cloud metadata addresses
(``169.254.169.254``, ``fd00:ec2::254``), multicast, unspecified and reserved
ones, and every scheme but http and https.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

__all__ = ["DestinationRefused", "Guard", "Resolver", "Target", "address_class"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: host, port → the addresses it resolves to.
Resolver = Callable[[str, int], Awaitable[list[str]]]

_METADATA = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)
#: Classes a deployment may allow (``REFUNDGATE_NOTIFY_ALLOW_PRIVATE``); loopback alone
#: is allowed by the sandbox default run.
PRIVATE_CLASSES = frozenset({"private", "loopback", "link-local", "unique-local", "shared"})


class DestinationRefused(Exception):
    """The URL may not be called: a refused scheme, or an address the guard forbids."""


@dataclass(frozen=True, slots=True)
class Target:
    """A checked destination: the host as named, and the address to connect to."""

    scheme: str
    host: str
    port: int
    address: str


def address_class(address: IPAddress) -> str | None:
    """The refused class of ``address`` ("loopback", "metadata", …), None if public."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address_class(address.ipv4_mapped)  # ::ffff:127.0.0.1 is 127.0.0.1
    checks: tuple[tuple[str, bool], ...] = (
        ("metadata", address in _METADATA),
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("multicast", address.is_multicast),
        ("link-local", address.is_link_local),
        ("unique-local", isinstance(address, ipaddress.IPv6Address) and _unique_local(address)),
        ("shared", address in ipaddress.ip_network("100.64.0.0/10")),
        ("reserved", address.is_reserved),
        ("private", not address.is_global),  # RFC 1918 and the other special-purpose ranges
    )
    return next((name for name, hit in checks if hit), None)


def _unique_local(address: ipaddress.IPv6Address) -> bool:
    return address in ipaddress.ip_network("fc00::/7")


async def _system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    return [str(info[4][0]) for info in infos]


class Guard:
    """Checks destinations; ``allowed`` names the refused classes a deployment accepts."""

    def __init__(
        self, *, allowed: frozenset[str] = frozenset(), resolver: Resolver | None = None
    ) -> None:
        self._allowed = allowed
        self._resolve = resolver or _system_resolver

    async def check(self, scheme: str, host: str, port: int) -> Target:
        """The address to connect to for ``host``; :class:`DestinationRefused` if none may be."""
        if scheme not in ("http", "https"):
            raise DestinationRefused(f"scheme {scheme or '(none)'!r} is not http or https")
        if not host:
            raise DestinationRefused("the URL names no host")
        try:
            found = await self._resolve(host.strip("[]"), port)
        except OSError as exc:
            raise DestinationRefused(f"cannot resolve {host}: {exc}") from None
        addresses = [ipaddress.ip_address(text.split("%", 1)[0]) for text in found]
        if not addresses:
            raise DestinationRefused(f"{host} resolves to no address")
        for address in addresses:  # one refused answer refuses the host: no lottery
            refused = address_class(address)
            if refused is not None and refused not in self._allowed:
                raise DestinationRefused(f"{host} resolves to a {refused} address ({address})")
        return Target(scheme, host, port, str(addresses[0]))
