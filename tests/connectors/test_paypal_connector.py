"""The PayPal connector against recorded answers (tests/fixtures/paypal/), one test per fixture.

Webhooks go through the real receive endpoint; their verification is PayPal's verify-webhook-signature call,
answered here by `responses` (the host is PayPal's; `connectors.outbound.resolve` is patched to a public address).
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
import responses

from commerce.services import payments as payment_services
from connectors import outbound
from connectors.errors import ProviderError, RateLimited
from connectors.sessions import close_sessions
from integrations.models import IntegrationStatus
from integrations.services import integration_test_connection
from tests.connectors.support import Recorded, shop_order
from tests.factories import IntegrationFactory
from webhooks.inbound.processing import webhook_process
from webhooks.models import IncomingWebhook

BASE = "https://api-m.sandbox.paypal.com"
TOKEN = f"{BASE}/v1/oauth2/token"
VERIFY = f"{BASE}/v1/notifications/verify-webhook-signature"
CAPTURE = f"{BASE}/v2/payments/captures/2GG279541U471931P"
WEBHOOK_ID = "8PT597110X687430LKGECATA"


fixture = Recorded("paypal")
replay = fixture.replay


def delivery(name: str) -> tuple[bytes, dict[str, str]]:
    recorded = fixture(name)
    return json.dumps(recorded["body"], indent=1).encode(), recorded["headers"]  # not compact: sent as is


@pytest.fixture
def integration(db, public_dns, sleeps):
    yield IntegrationFactory(provider="paypal", type="payment_gateway", status=IntegrationStatus.ACTIVE,
                             is_test_mode=True, api_key="AbcPayPalClientId0001", api_secret="EFGPayPalSecret0001",
                             config={"webhook_id": WEBHOOK_ID})
    close_sessions()


@pytest.fixture
def order(integration):
    return shop_order(integration, external_id="9001", external_number="3001", currency="EUR", total=Decimal("49.90"))


@pytest.fixture
def published(monkeypatch):
    sent: list[int] = []
    monkeypatch.setattr(payment_services, "publish", lambda event, payload, *args: sent.append(payload["order"]["id"]))
    return sent


def receive(client, integration, name: str):
    body, headers = delivery(name)
    return client.post(f"/api/webhooks/receive/{integration.route_key}/", data=body, content_type="application/json",
                       headers=headers)


@responses.activate
def test_oauth2_token__ok_is_the_connection_test(connector):
    replay("POST", TOKEN, "oauth2_token__ok")

    result = connector.test_connection()

    assert result.ok and result.detail == "Connected to PayPal (sandbox), app APP-80W284485P519543T."
    sent = responses.calls[0].request
    assert sent.body == "grant_type=client_credentials"
    assert sent.headers["Authorization"] == "Basic QWJjUGF5UGFsQ2xpZW50SWQwMDAxOkVGR1BheVBhbFNlY3JldDAwMDE="


@responses.activate
def test_verify_webhook_signature__success_sends_the_event_byte_for_byte(connector):
    replay("POST", TOKEN, "oauth2_token__ok")
    replay("POST", VERIFY, "verify_webhook_signature__success")
    body, headers = delivery("events__capture_completed")

    assert connector.verify_webhook(headers, body)

    sent = responses.calls[1].request
    assert sent.headers["Authorization"] == "Bearer A21AAFixtureAccessToken0001"
    assert sent.body.endswith(b',"webhook_event":' + body + b"}")  # the raw event, not a re-serialization
    assert {k: v for k, v in json.loads(sent.body).items() if k != "webhook_event"} == {
        "auth_algo": "SHA256withRSA",
        "cert_url": "https://api-m.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-a5cafa77",
        "transmission_id": "69cd13f0-d67a-11e5-baa3-778b53f4ae55",
        "transmission_sig": headers["PAYPAL-TRANSMISSION-SIG"],
        "transmission_time": "2024-05-29T10:05:03Z",
        "webhook_id": WEBHOOK_ID,
    }


@responses.activate
def test_verify_webhook_signature__failure_refuses_a_tampered_delivery(client, integration, order):
    replay("POST", TOKEN, "oauth2_token__ok")
    replay("POST", VERIFY, "verify_webhook_signature__failure")

    response = receive(client, integration, "events__capture_completed")

    assert response.status_code == 401 and not IncomingWebhook.objects.exists()


def test_a_delivery_without_transmission_headers_is_refused_without_a_call(connector):
    body, _ = delivery("events__capture_completed")
    assert not connector.verify_webhook({}, body)  # responses is not active: a call would fail the test


@responses.activate
def test_events__capture_completed_twice_marks_the_order_paid_once(client, integration, order, published):
    replay("POST", TOKEN, "oauth2_token__ok")
    replay("POST", VERIFY, "verify_webhook_signature__success")

    first = receive(client, integration, "events__capture_completed")
    assert webhook_process(webhook_id=first.json()["id"]) == "completed"
    second = receive(client, integration, "events__capture_completed")

    assert first.status_code == 202 and second.status_code == 200 and second.json()["duplicate"] is True
    order.refresh_from_db()
    assert order.status == "paid" and published == [order.pk]
    webhook = IncomingWebhook.objects.get()
    assert webhook.external_id == "WH-58D329510W468432D-8HN650336L201105X"
    assert webhook.metadata["result"] == {"payment": {"order": order.pk, "action": "paid",
                                                      "provider_id": "2GG279541U471931P", "outcome": "changed"}}
    assert len([c for c in responses.calls if c.request.url == TOKEN]) == 1  # the token is kept and reused


@responses.activate
def test_events__capture_refunded_finds_its_order_through_captures__get(client, integration, order, published):
    order.status = "paid"
    order.save()
    replay("POST", TOKEN, "oauth2_token__ok")
    replay("POST", VERIFY, "verify_webhook_signature__success")
    replay("GET", CAPTURE, "captures__get")

    first = receive(client, integration, "events__capture_refunded")
    assert webhook_process(webhook_id=first.json()["id"]) == "completed"
    assert receive(client, integration, "events__capture_refunded").json()["duplicate"] is True

    order.refresh_from_db()
    assert order.status == "refunded" and published == [order.pk]


@responses.activate
def test_errors__unauthorized_from_the_token_endpoint_asks_for_new_credentials(connector, integration):
    replay("POST", TOKEN, "errors__unauthorized")

    assert not integration_test_connection(integration=integration).ok
    with pytest.raises(ProviderError):
        connector.client.capture("2GG279541U471931P")  # needs a token first: the grant is refused

    integration.refresh_from_db()
    assert integration.status == IntegrationStatus.PENDING_AUTH
    assert "Client Authentication failed" in integration.last_error


@responses.activate
def test_a_401_on_a_call_fetches_a_new_token_once(connector, integration):
    integration.access_token = "A21AAExpiredToken0000"
    integration.save()
    replay("GET", CAPTURE, "errors__unauthorized")
    replay("POST", TOKEN, "oauth2_token__ok")
    replay("GET", CAPTURE, "captures__get")

    assert connector.client.capture("2GG279541U471931P")["custom_id"] == "3001"

    integration.refresh_from_db()
    assert integration.access_token == "A21AAFixtureAccessToken0001" and integration.expires_at is not None


@responses.activate
def test_errors__not_found(connector, integration):
    integration.access_token = "A21AAFixtureAccessToken0001"
    replay("GET", CAPTURE, "errors__not_found")
    with pytest.raises(ProviderError) as caught:
        connector.client.capture("2GG279541U471931P")
    assert caught.value.status_code == 404 and "The specified resource does not exist." in caught.value.message


@responses.activate
def test_errors__unprocessable_verification_is_a_permanent_error(connector, integration):
    integration.access_token = "A21AAFixtureAccessToken0001"
    replay("POST", VERIFY, "errors__unprocessable")
    body, headers = delivery("events__capture_completed")
    with pytest.raises(ProviderError) as caught:
        connector.verify_webhook(headers, body)
    assert caught.value.status_code == 422 and not caught.value.transient


@responses.activate
def test_errors__rate_limited_is_retried_after_paypals_wait(connector, integration, sleeps, settings):
    integration.access_token = "A21AAFixtureAccessToken0001"
    replay("GET", CAPTURE, "errors__rate_limited")
    replay("GET", CAPTURE, "captures__get")
    assert connector.client.capture("2GG279541U471931P")["status"] == "COMPLETED"
    assert sleeps == [3.0]
    settings.PROVIDER_MAX_RETRIES = 0
    replay("GET", CAPTURE, "errors__rate_limited")
    with pytest.raises(RateLimited):
        connector.client.capture("2GG279541U471931P")


@responses.activate
def test_errors__server_error_during_verification_answers_503_so_paypal_retries(client, integration, order):
    integration.access_token = "A21AAFixtureAccessToken0001"
    integration.save()
    replay("POST", VERIFY, "errors__server_error")

    response = receive(client, integration, "events__capture_completed")

    assert response.status_code == 503 and not IncomingWebhook.objects.exists()


def test_created_through_the_api_and_tested_offline(admin_api, monkeypatch):
    import socket

    def no_dns(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(outbound.socket, "getaddrinfo", no_dns)
    response = admin_api.post("/api/integrations/", {
        "name": "PayPal", "code": "paypal-eu", "provider": "paypal", "api_key": "client-id-0001",
        "api_secret": "client-secret-0001", "config": {"webhook_id": WEBHOOK_ID},
    }, format="json")
    assert response.status_code == 201, response.content

    tested = admin_api.post(f"/api/integrations/{response.json()['id']}/test/", {}, format="json")

    assert tested.json() == {**tested.json(), "ok": False,
                             "detail": "Could not reach PayPal: Host 'api-m.paypal.com' does not resolve."}
    close_sessions()
