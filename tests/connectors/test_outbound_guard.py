"""The one SSRF guard (connectors.outbound.check_outbound_url) over the URL forms attackers use.

Only globally reachable unicast addresses pass; IPv4 hidden inside IPv6
(IPv4-mapped, 6to4, Teredo, NAT64) is judged by the IPv4 it carries; legacy
IPv4 spellings (decimal, octal, hex, short forms) are read the way the C
resolver reads them. Names are resolved through `socket.getaddrinfo`, patched
here so the verdicts do not depend on this machine's DNS.
"""

from __future__ import annotations

import ipaddress
import socket

import pytest

from config.errors import UnsafeURL
from connectors.outbound import check_connected_address, check_outbound_url
from integrations.models import Integration
from webhooks.models import WebhookEndpoint

# Names a patched resolver answers; anything else does not resolve.
FAKE_DNS = {
    "public.example": ["93.184.216.34"],
    "public6.example": ["2606:4700:4700::1111"],
    "rebind.example": ["93.184.216.34", "10.0.0.7"],  # one inward answer is enough to refuse
    "metadata.example": ["169.254.169.254"],
    "cgnat.example": ["100.100.100.200"],
    "mapped.example": ["::ffff:127.0.0.1"],
}

REJECTED = [
    # loopback, in every spelling the C resolver accepts
    "http://127.0.0.1/",
    "http://127.1/",
    "http://2130706433/",
    "http://0x7f.1/",
    "http://0x7f000001/",
    "http://0177.0.0.1/",
    "http://017700000001/",
    "http://127.0.0.1./",
    "http://[::1]/",
    "http://[0:0:0:0:0:0:0:1]/",
    "http://localhost/",
    "http://localhost./",
    "http://LOCALHOST/",
    "http://anything.localhost/",
    # userinfo tricks
    "http://evil@127.0.0.1/",
    "http://127.0.0.1@public.example/",
    "http://user:pass@public.example/",
    # private, link-local, metadata, CGNAT, unspecified, broadcast, multicast, reserved, benchmarking
    "http://10.0.0.1/",
    "http://172.16.5.4/",
    "http://192.168.1.1/",
    "http://169.254.169.254/latest/meta-data/",
    "http://100.100.100.200/latest/meta-data/",
    "http://100.64.0.1/",
    "http://0.0.0.0/",
    "http://0/",
    "http://255.255.255.255/",
    "http://224.0.0.1/",
    "http://239.255.255.250/",
    "http://240.0.0.1/",
    "http://198.18.0.1/",
    "http://192.0.0.170/",
    "http://192.0.2.1/",
    # IPv6 scopes and special ranges
    "http://[fe80::1]/",
    "http://[fe80::1%25eth0]/",
    "http://[fc00::1]/",
    "http://[fd12:3456::1]/",
    "http://[ff02::1]/",
    "http://[ff0e::1]/",
    "http://[2001:db8::1]/",
    "http://[::]/",
    "http://[64:ff9b:1::a00:1]/",
    # IPv4 inside IPv6
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:7f00:1]/",
    "http://[::ffff:169.254.169.254]/",
    "http://[::127.0.0.1]/",
    "http://[2002:7f00:1::]/",
    "http://[2002:a9fe:a9fe::1]/",
    "http://[2002:6464:64c8::]/",
    "http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/",  # Teredo, client 127.0.0.1
    "http://[64:ff9b::7f00:1]/",
    "http://[64:ff9b::a9fe:a9fe]/",
    "http://[64:ff9b::100.100.100.200]/",
    # names that resolve inward
    "http://metadata.example/",
    "http://cgnat.example/",
    "http://mapped.example/",
    "http://rebind.example/",
    # not http(s), no host, unparsable
    "ftp://public.example/",
    "file:///etc/passwd",
    "gopher://public.example/",
    "http:///path",
    "http://[::1/",
]

ACCEPTED = [
    "http://93.184.216.34/",
    "https://93.184.216.34:8443/hook?x=1",
    "https://1.1.1.1/",
    "https://[2606:4700:4700::1111]/",
    "http://public.example/",
    "https://public.example./",
    "https://PUBLIC.example/path",
    "https://public6.example/",
    "http://[::ffff:93.184.216.34]/",
    "http://[2002:5db8:d822::1]/",  # 6to4 of 93.184.216.34
    "http://[64:ff9b::5db8:d822]/",  # NAT64 of 93.184.216.34
    "http://1572395042/",  # 93.184.216.34 in decimal
]


@pytest.fixture(autouse=True)
def fake_dns(monkeypatch, settings):
    settings.OUTBOUND_URL_ALLOWLIST = []

    def getaddrinfo(host, port, *args, **kwargs):
        key = host.rstrip(".").lower() if isinstance(host, str) else host
        if key not in FAKE_DNS:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, 0))
                for a in FAKE_DNS[key]]

    monkeypatch.setattr("connectors.outbound.socket.getaddrinfo", getaddrinfo)


@pytest.mark.parametrize("url", REJECTED)
def test_a_url_reaching_a_non_global_address_is_refused(url):
    # allow_unresolved: each is refused for what it points at, not because a lookup failed
    with pytest.raises(UnsafeURL) as refused:
        check_outbound_url(url, field="url", allow_unresolved=True)
    assert refused.value.code == "VALIDATION_ERROR" and "url" in refused.value.details


def test_a_host_that_does_not_resolve_is_refused_unless_saving_for_later():
    with pytest.raises(UnsafeURL):
        check_outbound_url("http://does-not-resolve.example/")
    assert check_outbound_url("http://does-not-resolve.example/", allow_unresolved=True)


@pytest.mark.parametrize("url", ACCEPTED)
def test_a_url_reaching_only_global_unicast_addresses_passes(url):
    assert check_outbound_url(url) == url


def test_there_are_at_least_forty_forms():
    assert len(REJECTED) + len(ACCEPTED) >= 40


def test_the_allowlist_still_lets_tests_and_the_sandbox_through(settings):
    settings.OUTBOUND_URL_ALLOWLIST = ["127.0.0.1", "localhost", "100.64.0.0/10"]
    for url in ("http://127.0.0.1:8765/", "http://localhost:8765/", "http://localhost.:8765/", "http://100.64.1.2/"):
        assert check_outbound_url(url) == url


@pytest.mark.parametrize("peer", ["100.100.100.200", "::ffff:127.0.0.1", "2002:7f00:1::", "64:ff9b::a9fe:a9fe",
                                  "224.0.0.1"])
def test_the_connection_time_check_uses_the_same_rule(peer):
    with pytest.raises(UnsafeURL):
        check_connected_address("public.example", peer)
    check_connected_address("public.example", "93.184.216.34")


# ---------------------------------------------------------------- through the API

API_REFUSED = [
    "http://100.100.100.200/latest/meta-data/",
    "http://100.64.0.1/",
    "http://[2002:7f00:1::]/",
    "http://[64:ff9b::7f00:1]/",
    "http://[::ffff:169.254.169.254]/",
    "http://localhost./",
    "http://224.0.0.1/",
]


@pytest.mark.django_db
@pytest.mark.parametrize("url", API_REFUSED)
def test_the_api_refuses_such_an_integration_api_endpoint(admin_api, url):
    response = admin_api.post("/api/integrations/", {"name": "Shop", "code": "shop", "provider": "sandbox",
                                                     "api_endpoint": url}, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    assert "api_endpoint" in response.json()["error"]["details"]
    assert not Integration.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("url", API_REFUSED)
def test_the_api_refuses_such_a_webhook_endpoint_url(admin_api, settings, url):
    settings.WEBHOOK_ALLOWED_HOSTS, settings.WEBHOOK_ALLOWED_CIDRS, settings.WEBHOOK_REQUIRE_HTTPS = [], [], False
    response = admin_api.post("/api/webhook-endpoints/", {"url": url, "events": ["*"]}, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    assert "url" in response.json()["error"]["details"]
    assert not WebhookEndpoint.objects.exists()


def test_the_guard_is_one_function():
    """Every caller goes through check_outbound_url; the old predicate is gone, not forked."""
    from connectors import outbound

    assert not hasattr(outbound, "_is_public")
    assert outbound.is_public_address(ipaddress.ip_address("93.184.216.34"))
