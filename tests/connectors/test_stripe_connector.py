"""The Stripe connector against recorded answers (tests/fixtures/stripe/), one test per fixture.

A fixture is `{"status", "headers", "body"}`; an event fixture is `{"body"}`, signed here with the endpoint
secret the way Stripe signs (`t=…,v1=hex HMAC-SHA256("{t}.{body}")`). Stripe's real host is used:
`connectors.outbound.resolve` is patched to a public address and `responses` answers before any socket opens.
"""

from __future__ import annotations

import pytest
import responses

from connectors import http, outbound
from connectors.errors import ProviderError, ProviderUnavailable
from connectors.sessions import close_sessions
from integrations.models import IntegrationStatus
from integrations.services import integration_test_connection
from tests.connectors import stripe_support
from tests.connectors.stripe_support import BASE, KEY, SECRET, replay, signed
from webhooks.inbound.processing import webhook_process
from webhooks.models import IncomingWebhook

integration, order = stripe_support.integration, stripe_support.order


# ---------------------------------------------------------------- calls and their errors


@responses.activate
def test_account__get_is_the_connection_test(connector):
    replay("GET", f"{BASE}/v1/account", "account__get")

    result = connector.test_connection()

    assert result.ok
    assert result.detail == "Connected to Stripe account acct_1PqFixture0001 (Switchyard Demo Store) in test mode."
    sent = responses.calls[0].request.headers
    assert sent["Authorization"] == f"Bearer {KEY}" and sent["Stripe-Version"] == "2024-06-20"


@responses.activate
def test_errors__unauthorized_marks_the_integration_error_with_a_readable_message(integration):
    replay("GET", f"{BASE}/v1/account", "errors__unauthorized")

    result = integration_test_connection(integration=integration)

    assert not result.ok and len(responses.calls) == 1  # a key does not expire: no refresh, no retry
    # It answered: a refused key, not an unreachable host.
    assert result.detail.startswith("Stripe refused the credentials: Stripe answered HTTP 401: Invalid API Key")
    integration.refresh_from_db()
    assert integration.status == IntegrationStatus.ERROR
    assert integration.last_error == result.detail
    assert KEY not in integration.last_error


@responses.activate
def test_errors__rate_limited_is_retried_after_the_wait_stripe_asked_for(connector, sleeps):
    replay("GET", f"{BASE}/v1/account", "errors__rate_limited")
    replay("GET", f"{BASE}/v1/account", "account__get")

    assert connector.test_connection().ok
    assert sleeps == [2.0] and len(responses.calls) == 2


@responses.activate
def test_errors__server_error_is_retried_then_reported(connector, sleeps, settings):
    settings.PROVIDER_MAX_RETRIES = 2
    replay("GET", f"{BASE}/v1/account", "errors__server_error")

    result = connector.test_connection()

    assert not result.ok and len(responses.calls) == 3 and len(sleeps) == 2
    assert "Stripe answered HTTP 500: Sorry, something went wrong" in result.detail
    with pytest.raises(ProviderUnavailable) as caught:
        connector.client.account()
    assert caught.value.transient


@responses.activate
def test_errors__bad_request_is_permanent(connector, sleeps):
    replay("GET", f"{BASE}/v1/payment_intents/pi_x", "errors__bad_request")

    with pytest.raises(ProviderError) as caught:
        connector.client.payment_intent("pi_x")

    assert caught.value.status_code == 400 and not caught.value.transient and sleeps == []
    assert "Received unknown parameter: expand_me" in caught.value.message


@responses.activate
def test_errors__not_found_fails_the_refund_webhook_for_good(client, integration, order):
    replay("GET", f"{BASE}/v1/payment_intents/pi_3PqFixture0001", "errors__not_found")
    body, headers = signed("events__charge_refunded")

    response = client.post(f"/api/webhooks/receive/{integration.route_key}/", data=body,
                           content_type="application/json", headers=headers)
    assert webhook_process(webhook_id=response.json()["id"]) == "failed"

    webhook = IncomingWebhook.objects.get()
    assert "No such payment_intent" in webhook.error_message
    order.refresh_from_db()
    assert order.status == "pending"


@responses.activate
def test_payment_intents__get_finds_the_order_of_a_charge_without_metadata(client, integration, order):
    order.status = "paid"
    order.save()
    replay("GET", f"{BASE}/v1/payment_intents/pi_3PqFixture0001", "payment_intents__get")
    body, headers = signed("events__charge_refunded")

    response = client.post(f"/api/webhooks/receive/{integration.route_key}/", data=body,
                           content_type="application/json", headers=headers)

    assert webhook_process(webhook_id=response.json()["id"]) == "completed"
    order.refresh_from_db()
    assert order.status == "refunded"
    assert IncomingWebhook.objects.get().metadata["result"] == {"payment": {
        "order": order.pk, "action": "refunded", "provider_id": "ch_3PqFixture0001", "outcome": "changed"}}


def test_created_through_the_api_and_tested_offline(admin_api, monkeypatch):
    import socket

    def no_dns(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(outbound.socket, "getaddrinfo", no_dns)
    monkeypatch.setattr(http, "sleep", lambda seconds: None)
    response = admin_api.post("/api/integrations/", {
        "name": "Stripe", "code": "stripe-ro", "provider": "stripe", "api_key": KEY, "webhook_secret": SECRET,
    }, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["type"] == "payment_gateway"

    tested = admin_api.post(f"/api/integrations/{response.json()['id']}/test/", {}, format="json")

    assert tested.status_code == 200 and tested.json()["ok"] is False
    assert tested.json()["detail"] == ("Could not reach Stripe: Host 'api.stripe.com' does not "
                                       "resolve.")
    close_sessions()
