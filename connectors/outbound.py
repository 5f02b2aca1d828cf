"""Checks on URLs Switchyard will call out to (api_endpoint overrides, webhook endpoints).

A URL that resolves to anything but a globally reachable unicast address
(private, loopback, link-local, shared/CGNAT, multicast, reserved, or an IPv4
of those kinds wrapped in IPv6) is refused unless its host or address is in `OUTBOUND_URL_ALLOWLIST`
(host names, IP addresses or CIDR ranges). This keeps a tenant from pointing the
hub at the cloud metadata service or the internal network (SSRF).

What can go wrong: DNS can change between this check and the call; the HTTP
client checks again at call time, so a rebinding only gets as far as the check.
Senders that must not trust a second lookup either (outgoing webhooks) mount
`GuardedHTTPAdapter`, which checks the address each new connection actually
reached before a byte is sent on it.

Callers with their own allowlist (webhooks: WEBHOOK_ALLOWED_HOSTS and
WEBHOOK_ALLOWED_CIDRS) pass it as `allowlist=`; the default is OUTBOUND_URL_ALLOWLIST.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3 import PoolManager
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from config.errors import UnsafeURL

ALLOWED_SCHEMES = ("http", "https")


@functools.lru_cache(maxsize=64)
def _parsed_allowlist(allowlist: tuple[str, ...]) -> tuple[frozenset[str], tuple[ipaddress._BaseNetwork, ...]]:
    """(host names, networks) of an allowlist, parsed once: every outgoing webhook checks its URL against it."""
    names, networks = set(), []
    for entry in allowlist:
        entry = entry.strip().lower()
        if not entry:
            continue
        names.add(entry)
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            continue
    return frozenset(names), tuple(networks)


def _allowlisted(
    host: str, addresses: list[ipaddress._BaseAddress], allowlist: Iterable[str] | None = None
) -> bool:
    names, networks = _parsed_allowlist(tuple(settings.OUTBOUND_URL_ALLOWLIST if allowlist is None else allowlist))
    if _normal_host(host) in names:
        return True
    return any(addr in network for network in networks for addr in addresses)


# Ranges Python 3.11's `is_global` still calls global but that no one on the internet answers from: IETF protocol
# assignments, IPv4-compatible IPv6 (deprecated, carries an IPv4 the stack may route), the local-use NAT64 prefix
# (a translator inside our own network), documentation and SRv6 SIDs.
_NOT_GLOBAL = tuple(
    ipaddress.ip_network(n) for n in ("192.0.0.0/24", "::/96", "64:ff9b:1::/48", "3fff::/20", "5f00::/16")
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_LEGACY_IPV4 = re.compile(r"^(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+)){0,3}$")


def _embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address] | None:
    """The IPv4 addresses a packet to this IPv6 address really travels to, for the transition formats."""
    if address.ipv4_mapped is not None:
        return [address.ipv4_mapped]
    if address.sixtofour is not None:
        return [address.sixtofour]
    if address.teredo is not None:
        return list(address.teredo)  # the relay server and the client behind it
    if address in _NAT64:
        return [ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)]
    return None


def is_public_address(address: ipaddress._BaseAddress) -> bool:
    """True only for a globally reachable unicast address: the one rule every outbound check applies.

    IPv6 forms that carry an IPv4 (IPv4-mapped, 6to4, Teredo, NAT64) are judged
    by the IPv4 they carry, so `[2002:7f00:1::]` is loopback and
    `[64:ff9b::a9fe:a9fe]` is the metadata service, whatever the prefix says.
    """
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return all(is_public_address(inner) for inner in embedded)
    return address.is_global and not address.is_multicast and not any(address in net for net in _NOT_GLOBAL)


def _normal_host(host: str) -> str:
    """A host as the resolver sees it: no brackets, lower case, no trailing root dot."""
    host = host.strip("[]").lower()
    return host[:-1] if host.endswith(".") and not host.endswith("..") else host


def _literal_address(host: str) -> ipaddress._BaseAddress | None:
    """The address a host names by itself, in any spelling the C resolver accepts (2130706433, 0x7f.1, 0177.1)."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if _LEGACY_IPV4.match(host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def resolve(host: str) -> list[ipaddress._BaseAddress]:
    """Every address `host` stands for; UnsafeURL when it stands for none."""
    host = _normal_host(host)
    literal = _literal_address(host)
    if literal is not None:
        return [literal]
    if host == "localhost" or host.endswith(".localhost"):  # RFC 6761: always loopback, whatever DNS says
        return [ipaddress.IPv4Address("127.0.0.1"), ipaddress.IPv6Address("::1")]
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError, ValueError):  # gaierror, an IDN label too long, a NUL in the name
        raise UnsafeURL(f"Host {host!r} does not resolve.", details={"url": ["host does not resolve"]}) from None
    return [ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos]


def check_outbound_url(
    url: str,
    *,
    field: str = "url",
    allowlist: Iterable[str] | None = None,
    require_https: bool = False,
    allowlist_setting: str = "OUTBOUND_URL_ALLOWLIST",
    allow_unresolved: bool = False,
) -> str:
    """Return the URL if Switchyard may call it; raise UnsafeURL (a VALIDATION_ERROR-class error) otherwise.

    The one SSRF guard: every user-supplied URL goes through it when saved and
    again before each call. `allowlist` replaces OUTBOUND_URL_ALLOWLIST (host
    names, IPs or CIDRs); `allowlist_setting` only names it in the error
    message. `allow_unresolved` accepts a host name that does not resolve *now*
    (saving a store's URL while the network or its DNS is down): nothing is
    called then, and every call checks the URL again, so an address that later
    resolves inward is still refused. IP literals and localhost names never
    need DNS, so they are judged even then.
    """
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - a malformed port raises here, not later in the HTTP client
    except ValueError:
        raise UnsafeURL("The URL cannot be parsed.", details={field: ["not a valid URL"]}) from None
    if parts.scheme not in ALLOWED_SCHEMES or not parts.hostname:
        raise UnsafeURL("Only http and https URLs with a host are allowed.", details={field: ["not an http(s) URL"]})
    if require_https and parts.scheme != "https":
        raise UnsafeURL("Only https URLs are allowed.", details={field: ["https is required"]})
    if parts.username or parts.password or "@" in parts.netloc:
        raise UnsafeURL("URLs may not carry credentials.", details={field: ["credentials in URL"]})
    host = parts.hostname
    try:
        addresses = resolve(host)
    except UnsafeURL:
        if allow_unresolved:
            return url
        raise UnsafeURL(f"Host {host!r} does not resolve.", details={field: ["host does not resolve"]}) from None
    if _allowlisted(host, addresses, allowlist):
        return url
    if not all(is_public_address(a) for a in addresses):
        raise UnsafeURL(
            f"{host} resolves to an address that is not public (private, loopback, link-local, shared or reserved).",
            details={field: [f"points at a non-public address; add it to {allowlist_setting} to allow it"]},
        )
    return url


# ---------------------------------------------------------------- connection-time check


class UnsafeAddress(UnsafeURL):
    """A connection reached an address the allowlist does not permit (DNS changed after the URL check)."""


def check_connected_address(host: str, peer: str, *, allowlist: Iterable[str] | None = None) -> None:
    """Raise UnsafeAddress unless `peer` (the IP a socket is connected to) may be reached for `host`."""
    address = ipaddress.ip_address(peer.split("%", 1)[0])
    if _allowlisted(host, [address], allowlist) or is_public_address(address):
        return
    raise UnsafeAddress(
        f"{host} connected to a non-public address.", details={"url": ["connected to a non-public address"]}
    )


def _guarded_connection(base: type[HTTPConnection], allowlist: tuple[str, ...]) -> type[HTTPConnection]:
    class GuardedConnection(base):  # type: ignore[misc, valid-type]
        def _new_conn(self):
            sock = super()._new_conn()
            try:
                check_connected_address(self.host, sock.getpeername()[0], allowlist=allowlist)
            except BaseException:
                sock.close()
                raise
            return sock

    return GuardedConnection


def _guarded_pool_classes(allowlist: tuple[str, ...]) -> dict[str, type[HTTPConnectionPool]]:
    http_pool = type("GuardedHTTPConnectionPool", (HTTPConnectionPool,),
                     {"ConnectionCls": _guarded_connection(HTTPConnection, allowlist)})
    https_pool = type("GuardedHTTPSConnectionPool", (HTTPSConnectionPool,),
                      {"ConnectionCls": _guarded_connection(HTTPSConnection, allowlist)})
    return {"http": http_pool, "https": https_pool}


def guarded_pool_manager(*, allowlist: Iterable[str] | None = None, **kwargs) -> PoolManager:
    """A urllib3 PoolManager whose every new connection is checked like GuardedHTTPAdapter's (keep-alive pools per
    origin), for a sender that needs no more of an HTTP client than one POST (outgoing webhooks: requests'
    session machinery costs twice the CPU of the call itself)."""
    manager = PoolManager(**kwargs)
    manager.pool_classes_by_scheme = _guarded_pool_classes(
        tuple(settings.OUTBOUND_URL_ALLOWLIST if allowlist is None else allowlist))
    return manager


class GuardedHTTPAdapter(HTTPAdapter):
    """A requests adapter whose every new connection is checked against the allowlist once connected.

    The check runs on the socket's peer address after the TCP connect and
    before TLS or the request, so a name that resolved to a public address for
    `check_outbound_url` and to 127.0.0.1 a moment later is refused (UnsafeAddress
    propagates out of `session.send`). Do not use it with a proxy: the peer would
    be the proxy.
    """

    def __init__(self, *, allowlist: Iterable[str] | None = None, **kwargs):
        self.allowlist = tuple(settings.OUTBOUND_URL_ALLOWLIST if allowlist is None else allowlist)
        super().__init__(**kwargs)

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _guarded_pool_classes(self.allowlist)
