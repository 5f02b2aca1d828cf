"""Checks on URLs Switchyard will call out to (api_endpoint overrides, webhook endpoints).

A URL that resolves to a private, loopback, link-local or otherwise non-public
address is refused unless its host or address is in `OUTBOUND_URL_ALLOWLIST`
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

import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from config.errors import UnsafeURL

ALLOWED_SCHEMES = ("http", "https")


def _allowlisted(
    host: str, addresses: list[ipaddress._BaseAddress], allowlist: Iterable[str] | None = None
) -> bool:
    for entry in settings.OUTBOUND_URL_ALLOWLIST if allowlist is None else allowlist:
        entry = entry.strip().lower()
        if not entry:
            continue
        if entry == host.lower():
            return True
        try:
            network = ipaddress.ip_network(entry, strict=False)
        except ValueError:
            continue
        if any(addr in network for addr in addresses):
            return True
    return False


def _is_public(address: ipaddress._BaseAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_reserved
        or address.is_multicast
        or address.is_unspecified
    )


def resolve(host: str) -> list[ipaddress._BaseAddress]:
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except socket.gaierror:
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

    `allowlist` replaces OUTBOUND_URL_ALLOWLIST (host names, IPs or CIDRs);
    `allowlist_setting` only names it in the error message. `allow_unresolved`
    accepts a host that does not resolve *now* (saving a store's URL while the
    network or its DNS is down): nothing is called then, and every call checks
    the URL again, so an address that later resolves inward is still refused.
    """
    parts = urlsplit(url)
    if parts.scheme not in ALLOWED_SCHEMES or not parts.hostname:
        raise UnsafeURL("Only http and https URLs with a host are allowed.", details={field: ["not an http(s) URL"]})
    if require_https and parts.scheme != "https":
        raise UnsafeURL("Only https URLs are allowed.", details={field: ["https is required"]})
    if parts.username or parts.password:
        raise UnsafeURL("URLs may not carry credentials.", details={field: ["credentials in URL"]})
    host = parts.hostname
    try:
        addresses = resolve(host)
    except UnsafeURL:
        if allow_unresolved:
            return url
        raise
    if _allowlisted(host, addresses, allowlist):
        return url
    if not all(_is_public(a) for a in addresses):
        raise UnsafeURL(
            f"{host} resolves to a private, loopback or link-local address.",
            details={field: [f"points at a non-public address; add it to {allowlist_setting} to allow it"]},
        )
    return url


# ---------------------------------------------------------------- connection-time check


class UnsafeAddress(UnsafeURL):
    """A connection reached an address the allowlist does not permit (DNS changed after the URL check)."""


def check_connected_address(host: str, peer: str, *, allowlist: Iterable[str] | None = None) -> None:
    """Raise UnsafeAddress unless `peer` (the IP a socket is connected to) may be reached for `host`."""
    address = ipaddress.ip_address(peer.split("%", 1)[0])
    if _allowlisted(host, [address], allowlist) or _is_public(address):
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
        allowlist = self.allowlist
        http_pool = type("GuardedHTTPConnectionPool", (HTTPConnectionPool,),
                         {"ConnectionCls": _guarded_connection(HTTPConnection, allowlist)})
        https_pool = type("GuardedHTTPSConnectionPool", (HTTPSConnectionPool,),
                          {"ConnectionCls": _guarded_connection(HTTPSConnection, allowlist)})
        self.poolmanager.pool_classes_by_scheme = {"http": http_pool, "https": https_pool}
