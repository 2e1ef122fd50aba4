"""The address guard: which destinations the proxy may fetch a client-named URL from, and a
connection that goes exactly where the guard looked.

The proxy downloads URLs its clients name, so without a guard any client could make it reach
``http://127.0.0.1:…``, the cloud metadata service at ``169.254.169.254`` or hosts on the private
network behind it (server-side request forgery). The rules:

- A host name is resolved (``socket.getaddrinfo``, cooperative under gevent) and *every* address it
  resolves to must be public: globally routable and not loopback, private, link-local, multicast,
  reserved or unspecified. IPv4 addresses embedded in IPv6 ones (IPv4-mapped ``::ffff:a.b.c.d``,
  NAT64 ``64:ff9b::/96``, 6to4, Teredo) are judged by the IPv4 address they lead to.
- ``KIMIPROXY_FETCH_ALLOW`` lists exceptions the operator trusts: host names (exact, or
  ``*.example.com`` for any subdomain), IP addresses and CIDR networks. A host allowed by name may
  resolve to anything; otherwise a non-public address must lie in an allowed network.

**Why the connection is pinned.** Checking a name and then letting the HTTP library resolve it
again would leave a window (DNS rebinding: the first answer is public, the second ``127.0.0.1``).
So the addresses that were checked are the ones connected to: :func:`pinned_session` returns a
``requests`` session whose connections open a socket to the checked IP while everything else still
uses the host name — the ``Host`` header, TLS SNI and certificate verification — so HTTPS keeps
verifying the real server. The alternative, re-checking the peer address once connected, was
rejected because the request (headers, possibly side effects on an internal service) would already
have been sent by then; the pinned connection still compares the peer address as a cheap second
check. Each redirect hop is checked and pinned anew by the downloader. Sessions ignore proxy
settings from the environment (``trust_env = False``): through a proxy the guard could not know
where a request really goes.
"""

from __future__ import annotations

import ipaddress
import socket

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import NewConnectionError

from kimiproxy.allow_list import (
    NAT64,
    NAT64_LOCAL,
    AllowList,
    IPAddress,
    embedded_ipv4,
    normal_host,
)


class DestinationRefused(Exception):
    """The guard refuses a destination; ``str()`` says why, fit for the client to read."""


class ResolutionFailed(Exception):
    """The host name could not be resolved."""


def _plainly_public(address: IPAddress) -> bool:
    return address.is_global and not (
        address.is_multicast
        or address.is_private
        or address.is_reserved
        or address.is_loopback
        or address.is_link_local
        or address.is_unspecified
        or (address.version == 6 and address.is_site_local)
    )


def is_public_address(address: IPAddress) -> bool:
    """Whether ``address`` is a public unicast address (and so is any IPv4 address it embeds)."""
    if isinstance(address, ipaddress.IPv6Address) and address.scope_id:
        address = ipaddress.IPv6Address(str(address).split("%", 1)[0])
    if address.version == 6:
        if address.ipv4_mapped is not None:
            return _plainly_public(address.ipv4_mapped)
        if address in NAT64:  # the well-known prefix sits in ::/8, "reserved"; judge the IPv4 one
            return _plainly_public(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        if address in NAT64_LOCAL:
            return False
    return _plainly_public(address) and all(_plainly_public(a) for a in embedded_ipv4(address))


def describe_address(address: IPAddress) -> str:
    """A short reason an address is not public, for messages about addresses the client named."""
    target = address.ipv4_mapped if address.version == 6 and address.ipv4_mapped else address
    for attribute, label in (
        ("is_loopback", "a loopback"),
        ("is_link_local", "a link-local"),
        ("is_multicast", "a multicast"),
        ("is_unspecified", "an unspecified"),
        ("is_private", "a private"),
    ):
        if getattr(target, attribute):
            return label
    return "a non-public"


def resolve(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to for a TCP connection, in the resolver's order."""
    try:
        infos = socket.getaddrinfo(normal_host(host), port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, OSError) as exc:
        raise ResolutionFailed(f"the host name {host} could not be resolved") from exc
    addresses: list[str] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        if sockaddr[0] not in addresses:
            addresses.append(sockaddr[0])
    if not addresses:
        raise ResolutionFailed(f"the host name {host} could not be resolved")
    return addresses


def checked_addresses(host: str, port: int, allow: AllowList) -> list[str]:
    """Resolve ``host`` and return its addresses if the guard allows all of them, else raise
    :class:`DestinationRefused` (or :class:`ResolutionFailed`)."""
    addresses = resolve(host, port)
    if allow.allows_host(host):
        return addresses
    literal = _literal(host)
    for text in addresses:
        address = ipaddress.ip_address(text)
        if is_public_address(address) or allow.allows_address(address):
            continue
        if literal is not None:
            raise DestinationRefused(
                f"{host} is {describe_address(literal)} address, which is not allowed"
            )
        # Do not tell the client which internal address its host name maps to.
        raise DestinationRefused(
            f"{host} resolves to an address that is not public, which is not allowed"
        )
    return addresses


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(normal_host(host))
    except ValueError:
        return None


# -- connections pinned to a checked address --------------------------------------------------


def _pinned_new_conn(connection: HTTPConnection, base: type, address: str) -> socket.socket:
    """Open the socket to ``address`` while the connection keeps the host name for the Host
    header, SNI and certificate checks (urllib3 resolves ``_dns_host``; ``host`` derives from it
    and is read again only after the socket exists)."""
    hostname = connection._dns_host
    connection._dns_host = address
    try:
        sock = base._new_conn(connection)
    finally:
        connection._dns_host = hostname
    try:
        peer = ipaddress.ip_address(str(sock.getpeername()[0]).split("%", 1)[0])
        same = peer == ipaddress.ip_address(address.split("%", 1)[0])
    except (OSError, ValueError):
        same = False
    if not same:
        sock.close()
        raise NewConnectionError(connection, "connected to an address other than the checked one")
    return sock


def _pinned_pools(address: str) -> dict[str, type]:
    class PinnedHTTPConnection(HTTPConnection):
        def _new_conn(self) -> socket.socket:
            return _pinned_new_conn(self, HTTPConnection, address)

    class PinnedHTTPSConnection(HTTPSConnection):
        def _new_conn(self) -> socket.socket:
            return _pinned_new_conn(self, HTTPSConnection, address)

    class PinnedHTTPConnectionPool(HTTPConnectionPool):
        ConnectionCls = PinnedHTTPConnection

    class PinnedHTTPSConnectionPool(HTTPSConnectionPool):
        ConnectionCls = PinnedHTTPSConnection

    return {"http": PinnedHTTPConnectionPool, "https": PinnedHTTPSConnectionPool}


class PinnedAdapter(HTTPAdapter):
    """A transport adapter whose every connection goes to one checked IP address."""

    def __init__(self, address: str):
        self.address = address
        super().__init__(pool_connections=1, pool_maxsize=1, max_retries=0)

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _pinned_pools(self.address)

    def proxy_manager_for(self, proxy, **proxy_kwargs):  # pragma: no cover - defensive
        raise requests.exceptions.InvalidProxyURL("proxies are not used for file fetches")


def pinned_session(address: str) -> requests.Session:
    """A one-off session that connects only to ``address`` and ignores environment proxies."""
    session = requests.Session()
    session.trust_env = False
    adapter = PinnedAdapter(address)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
