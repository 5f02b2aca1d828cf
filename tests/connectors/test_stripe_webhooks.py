"""Stripe webhooks through the real receive endpoint: verified, stored once per event id, the order marked once."""

from __future__ import annotations

import json
import time

import pytest
import responses
import stripe

from commerce.services import payments as payment_services
from connectors import registry
from connectors.stripe import webhooks as stripe_webhooks
from tests.connectors import stripe_support
from tests.connectors.stripe_support import BASE, replay, signed
from webhooks.inbound.processing import webhook_process
from webhooks.models import IncomingWebhook

# The shared fixtures, re-bound (not imported by name, so nothing shadows an import).
integration, order = stripe_support.integration, stripe_support.order


@pytest.fixture
def published(monkeypatch):
    """order.updated events the payment services publish (one per change of an order)."""
    sent: list[tuple[str, int]] = []
    monkeypatch.setattr(payment_services, "publish",
                        lambda event, payload, organization, integration=None: sent.append(
                            (event, payload["order"]["id"])))
    return sent


def deliver(client, integration, name: str, **signing):
    body, headers = signed(name, **signing)
    return client.post(f"/api/webhooks/receive/{integration.route_key}/", data=body, content_type="application/json",
                       headers=headers)


def test_a_correct_signature_verifies_and_a_tampered_one_does_not(connector):
    body, headers = signed("events__payment_intent_succeeded")
    assert connector.verify_webhook(headers, body)
    assert not connector.verify_webhook(headers, body.replace(b'"amount_received":25000', b'"amount_received":1'))
    assert not connector.verify_webhook({"Stripe-Signature": headers["Stripe-Signature"][:-2] + "00"}, body)
    stale_body, stale = signed("events__payment_intent_succeeded", at=int(time.time()) - 3600)
    assert not connector.verify_webhook(stale, stale_body)
    other_body, other = signed("events__payment_intent_succeeded", secret="whsec_someone_else")
    assert not connector.verify_webhook(other, other_body)


def test_a_tampered_delivery_is_refused_at_the_endpoint(client, integration, order):
    body, headers = signed("events__payment_intent_succeeded")
    response = client.post(f"/api/webhooks/receive/{integration.route_key}/", data=body + b" ",
                           content_type="application/json", headers=headers)
    assert response.status_code == 401 and response.json()["error"]["code"] == "INVALID_SIGNATURE"
    assert not IncomingWebhook.objects.exists()


def test_events__payment_intent_succeeded_twice_marks_the_order_paid_once(client, integration, order, published):
    first = deliver(client, integration, "events__payment_intent_succeeded")
    second = deliver(client, integration, "events__payment_intent_succeeded")

    assert first.status_code == 202 and second.status_code == 200 and second.json()["duplicate"] is True
    assert webhook_process(webhook_id=first.json()["id"]) == "completed"
    assert webhook_process(webhook_id=second.json()["id"]) is None  # the same row: done already
    order.refresh_from_db()
    assert order.status == "paid"
    assert published == [("order.updated", order.pk)]
    webhook = IncomingWebhook.objects.get()
    assert webhook.external_id == "evt_3PqSucceeded0001" and webhook.event_type == "payment_intent.succeeded"
    assert webhook.metadata["result"] == {"payment": {
        "order": order.pk, "action": "paid", "provider_id": "pi_3PqFixture0001", "outcome": "changed"}}


def test_the_same_payment_in_two_events_changes_the_order_once(client, integration, order, published):
    for name in ("events__payment_intent_succeeded", "events__checkout_session_completed"):
        assert webhook_process(webhook_id=deliver(client, integration, name).json()["id"]) == "completed"
    results = [w.metadata["result"]["payment"]["outcome"] for w in IncomingWebhook.objects.order_by("pk")]
    assert results == ["changed", "unchanged"] and len(published) == 1


def test_events__checkout_session_completed_reads_client_reference_id(client, integration, order):
    assert webhook_process(webhook_id=deliver(client, integration, "events__checkout_session_completed")
                           .json()["id"]) == "completed"
    order.refresh_from_db()
    assert order.status == "paid"


def test_events__charge_refunded_partial_leaves_the_order_paid(client, integration, order):
    order.status = "paid"
    order.save()
    webhook_id = deliver(client, integration, "events__charge_refunded_partial").json()["id"]

    assert webhook_process(webhook_id=webhook_id) == "completed"

    order.refresh_from_db()
    assert order.status == "paid"
    assert IncomingWebhook.objects.get().metadata["result"]["payment"]["outcome"] == "partial_refund"


@responses.activate
def test_events__charge_refunded_twice_refunds_once(client, integration, order, published):
    order.status = "paid"
    order.save()
    replay("GET", f"{BASE}/v1/payment_intents/pi_3PqFixture0001", "payment_intents__get")
    first = deliver(client, integration, "events__charge_refunded")
    assert webhook_process(webhook_id=first.json()["id"]) == "completed"
    second = deliver(client, integration, "events__charge_refunded")

    assert second.status_code == 200 and len(responses.calls) == 1
    assert second.json() == {"id": first.json()["id"], "status": "completed", "duplicate": True}
    order.refresh_from_db()
    assert order.status == "refunded" and published == [("order.updated", order.pk)]


def test_events__payment_intent_payment_failed_is_stored_and_ignored(client, integration, order):
    webhook_id = deliver(client, integration, "events__payment_intent_payment_failed").json()["id"]
    assert webhook_process(webhook_id=webhook_id) == "ignored"
    order.refresh_from_db()
    assert order.status == "pending"


def test_a_payment_for_an_order_not_imported_yet_is_retried(client, integration):
    webhook_id = deliver(client, integration, "events__payment_intent_succeeded").json()["id"]

    assert webhook_process(webhook_id=webhook_id) == "pending"  # transient: the order may arrive with the next sync

    webhook = IncomingWebhook.objects.get()
    assert webhook.retry_count == 1 and "Order reference '1001' matches no order" in webhook.error_message


def test_an_underpayment_does_not_mark_the_order_paid(client, integration, order):
    order.total = "300.00"
    order.save()
    assert webhook_process(webhook_id=deliver(client, integration, "events__payment_intent_succeeded")
                           .json()["id"]) == "completed"
    order.refresh_from_db()
    assert order.status == "pending"
    assert IncomingWebhook.objects.get().metadata["result"]["payment"]["outcome"] == "amount_mismatch"


def test_registered_with_its_capability():
    assert registry.get("stripe").describe()["capabilities"] == ["payments"]


# ---------------------------------------------------------------- Stripe (headers from the stripe library)


STRIPE_SECRET = "whsec_test_7Ff1tGm0ZmM3xq"
STRIPE_BODY = json.dumps({"id": "evt_1", "object": "event", "type": "payment_intent.succeeded"}).encode()


def _stripe_header(timestamp: int, secret: str = STRIPE_SECRET) -> str:
    return stripe.WebhookSignature.generate_signature_header(STRIPE_BODY.decode(), secret, timestamp=timestamp)


def test_stripe_header_from_the_library_verifies():
    now = int(time.time())
    header = _stripe_header(now)
    stripe.WebhookSignature.verify_header(STRIPE_BODY, header, STRIPE_SECRET, tolerance=300)  # the SDK agrees
    assert stripe_webhooks.verify({"Stripe-Signature": header}, STRIPE_BODY, [STRIPE_SECRET])
    assert not stripe_webhooks.verify({"Stripe-Signature": header}, STRIPE_BODY + b"\n", [STRIPE_SECRET])
    assert not stripe_webhooks.verify({"Stripe-Signature": header}, STRIPE_BODY, ["whsec_other"])


def test_stripe_several_v1_values_any_may_match_and_v0_is_ignored():
    now = int(time.time())
    good = _stripe_header(now).split("v1=")[1]
    header = f"t={now},v1={'0' * 64},v0={good},v1={good}"
    assert stripe_webhooks.verify({"Stripe-Signature": header}, STRIPE_BODY, [STRIPE_SECRET])
    assert not stripe_webhooks.verify({"Stripe-Signature": f"t={now},v0={good}"}, STRIPE_BODY, [STRIPE_SECRET])


def test_stripe_tolerance_refuses_old_timestamps_only_like_the_sdk():
    now = 1_800_000_000
    headers = lambda ts: {"Stripe-Signature": _stripe_header(ts)}  # noqa: E731
    assert stripe_webhooks.verify(headers(now - 299), STRIPE_BODY, [STRIPE_SECRET], now=now)
    assert not stripe_webhooks.verify(headers(now - 301), STRIPE_BODY, [STRIPE_SECRET], now=now)
    assert stripe_webhooks.verify(headers(now + 3600), STRIPE_BODY, [STRIPE_SECRET], now=now)
    assert not stripe_webhooks.verify(headers(now - 100), STRIPE_BODY, [STRIPE_SECRET], now=now, tolerance=60)


@pytest.mark.parametrize("header", ["", "v1=abc", "t=notanumber,v1=abc", "garbage", "t=1,v1="])
def test_stripe_malformed_headers_are_simply_not_verified(header):
    assert not stripe_webhooks.verify({"Stripe-Signature": header}, STRIPE_BODY, [STRIPE_SECRET])
