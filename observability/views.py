"""`GET /metrics`: the Prometheus exposition, for a scraper that proves itself.

A scrape is let in when it carries `Authorization: Bearer <METRICS_BEARER_TOKEN>`
(compared in constant time) or comes from an address in METRICS_ALLOWED_IPS
(addresses or CIDR ranges, matched against REMOTE_ADDR — behind a proxy, the
proxy must put the client's address there). With neither setting, every
scrape is refused: metrics name integrations' providers and volumes, which is
not for everyone. A refusal is 401 in the error envelope.
"""

from __future__ import annotations

import hmac
import ipaddress
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from rest_framework import status

from accounts.audit import client_ip
from config.errors import envelope_response

from .collectors import SwitchyardCollector

registry = CollectorRegistry(auto_describe=False)
registry.register(SwitchyardCollector())


@lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries if entry.strip())


def scrape_allowed(request: HttpRequest) -> bool:
    token = settings.METRICS_BEARER_TOKEN
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if token and scheme.lower() == "bearer" and given.strip():
        if hmac.compare_digest(given.strip().encode(), token.encode()):
            return True
    address = client_ip(request)
    if address and settings.METRICS_ALLOWED_IPS:
        ip = ipaddress.ip_address(address)
        return any(ip in network for network in _networks(tuple(settings.METRICS_ALLOWED_IPS)))
    return False


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    if not scrape_allowed(request):
        response = envelope_response("NOT_AUTHENTICATED", "A valid `Authorization: Bearer <METRICS_BEARER_TOKEN>` "
                                     "header, or an address in METRICS_ALLOWED_IPS, is required.",
                                     status.HTTP_401_UNAUTHORIZED)
        response["WWW-Authenticate"] = "Bearer"
        return response
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
