"""Destinations an operator allows although they are not public (``KIMIPROXY_FETCH_ALLOW``):
host names, ``*.`` suffixes and IP networks, parsed once when the settings are read."""

from __future__ import annotations

import functools
import ipaddress
import re
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")
_HOST_NAME = re.compile(
    r"(\*\.)?[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*\.?"
)


@dataclass(frozen=True)
class AllowList:
    """Destinations an operator allows although they are not public (``KIMIPROXY_FETCH_ALLOW``)."""

    hosts: frozenset[str] = frozenset()
    suffixes: tuple[str, ...] = ()  # from "*.example.com": ".example.com"
    networks: tuple[IPNetwork, ...] = ()

    def allows_host(self, host: str) -> bool:
        name = normal_host(host)
        return name in self.hosts or any(name.endswith(suffix) for suffix in self.suffixes)

    def allows_address(self, address: IPAddress) -> bool:
        candidates = [address, *embedded_ipv4(address)]
        return any(a in network for a in candidates for network in self.networks)


def normal_host(host: str) -> str:
    return host.strip("[]").rstrip(".").lower()


@functools.lru_cache(maxsize=32)
def parse_allow_list(value: str) -> AllowList:
    """``"files.internal, 10.0.0.0/8, 127.0.0.1, *.corp.example"`` → :class:`AllowList`.

    Raises ``ValueError`` naming the entry that is neither a host name nor an IP network."""
    hosts: set[str] = set()
    suffixes: list[str] = []
    networks: list[IPNetwork] = []
    for raw in value.split(","):
        entry = raw.strip()
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            continue
        except ValueError:
            pass
        name = entry.lower().rstrip(".")
        if not _HOST_NAME.fullmatch(name):
            raise ValueError(
                f"KIMIPROXY_FETCH_ALLOW: {entry!r} is neither a host name nor an IP "
                "address or CIDR network"
            )
        if name.startswith("*."):
            suffixes.append(name[1:])
        else:
            hosts.add(name)
    return AllowList(frozenset(hosts), tuple(suffixes), tuple(networks))


def embedded_ipv4(address: IPAddress) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses an IPv6 address leads to (mapped, NAT64, 6to4, Teredo); none for IPv4."""
    if address.version == 4:
        return []
    found: list[ipaddress.IPv4Address] = []
    if address.ipv4_mapped is not None:
        found.append(address.ipv4_mapped)
    if address in NAT64:
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address.teredo is not None:
        found.extend(address.teredo)
    return found
