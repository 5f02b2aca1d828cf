"""Outbound URL safety for webhook endpoints: at creation, at every send, and on the address actually connected to."""

from __future__ import annotations

import ipaddress
import socket

import pytest
import requests

from connectors.outbound import GuardedHTTPAdapter, UnsafeAddress
from tests.webhooks.outbound_support import Receiver, make_endpoint
from webhooks.events import publish
from webhooks.models import DeliveryStatus, WebhookEndpoint
from webhooks.outbound.dispatcher import dispatch_due

pytestmark = pytest.mark.django_db

UNSAFE = [
    "http://127.0.0.1/hook",
    "http://10.1.2.3/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::1]/hook",
    "http://localhost/hook",  # a host name resolving to loopback
    "http://192.168.0.10/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://0.0.0.0/hook",
]


@pytest.fixture
def no_allowlist(settings):
    settings.WEBHOOK_ALLOWED_HOSTS, settings.WEBHOOK_ALLOWED_CIDRS, settings.WEBHOOK_REQUIRE_HTTPS = [], [], False
    settings.OUTBOUND_URL_ALLOWLIST = ["127.0.0.1"]  # the provider allowlist does not apply to webhooks


@pytest.mark.parametrize("url", UNSAFE)
def test_unsafe_urls_are_refused_at_creation(admin_api, no_allowlist, url):
    response = admin_api.post("/api/webhook-endpoints/", {"url": url, "events": ["*"]}, format="json")
    assert response.status_code == 400, response.json()
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    assert "url" in response.json()["error"]["details"]
    assert not WebhookEndpoint.objects.exists()


def test_a_made_up_host_resolving_to_loopback_is_refused(admin_api, no_allowlist, monkeypatch):
    monkeypatch.setattr("connectors.outbound.resolve", lambda host: [ipaddress.ip_address("127.0.0.1")])
    response = admin_api.post("/api/webhook-endpoints/", {"url": "https://hooks.evil.test/", "events": ["*"]},
                              format="json")
    assert response.status_code == 400 and "WEBHOOK_ALLOWED" in str(response.json()["error"]["details"])


def test_allowlists_let_loopback_through(admin_api, settings):
    settings.WEBHOOK_ALLOWED_CIDRS = ["127.0.0.0/8"]
    assert admin_api.post("/api/webhook-endpoints/", {"url": "http://127.0.0.1:8080/h", "events": ["*"]},
                          format="json").status_code == 201
    settings.WEBHOOK_ALLOWED_CIDRS, settings.WEBHOOK_ALLOWED_HOSTS = [], ["localhost"]
    assert admin_api.post("/api/webhook-endpoints/", {"url": "http://localhost:8080/h", "events": ["*"]},
                          format="json").status_code == 201


def test_https_is_required_when_configured(admin_api, settings, monkeypatch):
    settings.WEBHOOK_REQUIRE_HTTPS = True
    monkeypatch.setattr("connectors.outbound.resolve", lambda host: [ipaddress.ip_address("93.184.216.34")])
    response = admin_api.post("/api/webhook-endpoints/", {"url": "http://hooks.example.com/", "events": ["*"]},
                              format="json")
    assert response.status_code == 400 and response.json()["error"]["details"]["url"] == ["https is required"]
    assert admin_api.post("/api/webhook-endpoints/", {"url": "https://hooks.example.com/", "events": ["*"]},
                          format="json").status_code == 201


def test_the_url_is_checked_again_at_every_send(org, settings):
    settings.WEBHOOK_ALLOWED_CIDRS = ["127.0.0.0/8"]
    with Receiver(200) as receiver:
        make_endpoint(org, receiver.url)
        [delivery] = publish("order.created", {}, org)
        settings.WEBHOOK_ALLOWED_CIDRS = []  # the operator withdrew the permission
        dispatch_due(threads=1, run_seconds=2)
    assert receiver.requests == []
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.RETRYING and delivery.error.startswith("refused:")


@pytest.fixture
def rebinding_dns(monkeypatch):
    """rebind.test looks public to the URL check and resolves to 127.0.0.1 when the connection is made."""
    real = socket.getaddrinfo
    monkeypatch.setattr("connectors.outbound.resolve", lambda host: [ipaddress.ip_address("93.184.216.34")])

    def getaddrinfo(host, port, *args, **kwargs):
        if host == "rebind.test":
            return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", ("127.0.0.1", port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def test_dns_rebinding_is_caught_on_the_connected_address(org, no_allowlist, rebinding_dns):
    with Receiver(200) as receiver:
        port = receiver.server.server_address[1]
        make_endpoint(org, f"http://rebind.test:{port}/hook")
        [delivery] = publish("order.created", {}, org)
        dispatch_due(threads=1, run_seconds=2)
    assert receiver.requests == []  # connected, checked, closed: not a byte of the request was sent
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.RETRYING
    assert delivery.error == "refused: rebind.test connected to a non-public address."


def test_guarded_adapter_checks_the_peer_and_honours_its_allowlist(rebinding_dns):
    with Receiver(204) as receiver:
        url = f"http://rebind.test:{receiver.server.server_address[1]}/x"
        session = requests.Session()
        session.mount("http://", GuardedHTTPAdapter(allowlist=[]))
        with pytest.raises(UnsafeAddress):
            session.post(url, data=b"{}", timeout=2)
        session.mount("http://", GuardedHTTPAdapter(allowlist=["127.0.0.0/8"]))
        assert session.post(url, data=b"{}", timeout=2).status_code == 204
    assert len(receiver.requests) == 1
