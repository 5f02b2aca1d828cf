"""TikTok Shop webhooks: `Authorization` = hex HMAC-SHA256(app_secret, app_key + body), dedup, events."""

from __future__ import annotations

import pytest
import responses

from connectors import registry
from connectors.tiktok_shop import webhooks
from tests.connectors import tiktok_shop_support
from tests.connectors.tiktok_shop_support import API, fixture, raw, signed
from webhooks.inbound.handlers import handle
from webhooks.inbound.services import webhook_receive

integration = tiktok_shop_support.shop  # the shared fixture, re-bound (nothing shadows an import)


def test_a_correct_signature_verifies_and_a_tampered_one_does_not(integration):
    connector = registry.connector_for(integration)
    body = raw("webhooks__order_status_change")
    assert connector.verify_webhook(signed(body), body)
    assert not connector.verify_webhook(signed(body), body.replace(b"AWAITING_SHIPMENT", b"CANCELLED"))
    assert not connector.verify_webhook(signed(body, "someone-elses-secret"), body)
    assert not connector.verify_webhook({}, body)


@responses.activate
def test_webhooks__order_status_change_is_stored_once_and_imports_the_order(integration):
    responses.add("GET", f"{API}/order/202309/orders", json=fixture("orders__get")["body"])
    responses.add("POST", f"{API}/return_refund/202309/returns/search", json=fixture("returns__none")["body"])
    body = raw("webhooks__order_status_change")

    first = webhook_receive(integrations=[integration], headers=signed(body), body=body)
    again = webhook_receive(integrations=[integration], headers=signed(body), body=body)

    assert first.created and not again.created and again.webhook.pk == first.webhook.pk
    assert (first.webhook.event_type, first.webhook.external_id) == ("ORDER_STATUS_CHANGE", "7327112393057371910")
    assert handle(first.webhook).summary == {"orders": {"created": 1, "updated": 0, "unchanged": 0}}
    assert integration.orders.get().external_id == "576461413038785001"


def test_webhooks__seller_deauthorization_is_recorded_and_ignored():
    [event] = webhooks.parse(raw("webhooks__seller_deauthorization"))
    assert (event.event_type, event.resource, event.external_id) == (
        "SELLER_DEAUTHORIZATION", "seller_deauthorization", "7327112393057371911")
    with pytest.raises(Exception, match="not a TikTok Shop webhook"):
        webhooks.parse(b'{"type": 1}')
