"""Checks on URLs Switchyard will call out to (api_endpoint overrides, webhook endpoints).

A URL that resolves to a private, loopback, link-local or otherwise non-public
address is refused unless its host or address is in `OUTBOUND_URL_ALLOWLIST`
(host names, IP addresses or CIDR ranges). This keeps a tenant from pointing the
hub at the cloud metadata service or the internal network (SSRF).

What can go wrong: DNS can change between this check and the call; the HTTP
client checks again at call time, so a rebinding only gets as far as the check.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings

from config.errors import UnsafeURL

ALLOWED_SCHEMES = ("http", "https")


def _allowlisted(host: str, addresses: list[ipaddress._BaseAddress]) -> bool:
    for entry in settings.OUTBOUND_URL_ALLOWLIST:
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


def check_outbound_url(url: str, *, field: str = "url") -> str:
    """Return the URL if Switchyard may call it; raise UnsafeURL (a VALIDATION_ERROR-class error) otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in ALLOWED_SCHEMES or not parts.hostname:
        raise UnsafeURL("Only http and https URLs with a host are allowed.", details={field: ["not an http(s) URL"]})
    if parts.username or parts.password:
        raise UnsafeURL("URLs may not carry credentials.", details={field: ["credentials in URL"]})
    host = parts.hostname
    addresses = resolve(host)
    if _allowlisted(host, addresses):
        return url
    if not all(_is_public(a) for a in addresses):
        raise UnsafeURL(
            f"{host} resolves to a private, loopback or link-local address.",
            details={field: ["points at a non-public address; add it to OUTBOUND_URL_ALLOWLIST to allow it"]},
        )
    return url
