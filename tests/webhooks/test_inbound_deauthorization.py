"""Deauthorization events of app-level topics (TikTok SELLER_DEAUTHORIZATION, eBay AUTHORIZATION_REVOCATION):
the integration they name is disconnected (pending_auth, tokens wiped, integration.disconnected) without a
provider call; one naming another seller's account is recorded and ignored. Shopify's app/uninstalled is in
test_inbound_shopify_events.py.
"""

from __future__ import annotations

import json

import pytest
import responses

from integrations.models import Integration
from tests.connectors import ebay_support as ebay
from tests.connectors import support
from tests.connectors import tiktok_shop_support as tiktok
from tests.integrations.oauth_fakes import published, subscribe_all
from webhooks.inbound.processing import webhook_process
from webhooks.inbound.services import webhook_receive
from webhooks.models import IncomingWebhook

SHOP_ID = "7495609155379300001"  # the fixture's shop


# The shared fixtures, re-bound (not imported by name, so nothing shadows an import).
tiktok_shop, ebay_seller, private_key, ebay_keys = tiktok.shop, ebay.seller, ebay.private_key, ebay.ebay_keys
public_dns, sleeps = support.public_dns, support.sleeps


def _received(integration, body: bytes, headers: dict) -> IncomingWebhook:
    receipt = webhook_receive(integrations=[integration], headers=headers, body=body)
    assert receipt.created
    return receipt.webhook


def _disconnected(integration) -> bool:
    row = Integration.objects.get(pk=integration.pk)
    return row.status == "pending_auth" and row.access_token == "" and row.refresh_token == ""


def test_tiktok_deauthorization_of_this_shop_disconnects_once(tiktok_shop):
    tiktok_shop.config = {**tiktok_shop.config, "shop_id": SHOP_ID}
    tiktok_shop.save()
    subscribe_all(tiktok_shop.organization)
    body = tiktok.raw("webhooks__seller_deauthorization")

    webhook = _received(tiktok_shop, body, tiktok.signed(body))
    assert webhook_process(webhook_id=webhook.pk) == "completed"  # no HTTP mock: no provider call

    assert _disconnected(tiktok_shop)
    [event] = published(tiktok_shop.organization, "integration.disconnected")
    assert event["reason"] == "deauthorized" and event["revoked"] is False
    redelivered = json.loads(body) | {"tts_notification_id": "7327112393057371999"}
    again = json.dumps(redelivered).encode()
    assert webhook_process(webhook_id=_received(tiktok_shop, again, tiktok.signed(again)).pk) == "completed"
    assert len(published(tiktok_shop.organization, "integration.disconnected")) == 1


@pytest.mark.parametrize("shop_id", ["", "7495609155379300002"])
def test_tiktok_deauthorization_of_another_or_an_unknown_shop_is_ignored(tiktok_shop, shop_id):
    tiktok_shop.config = {**tiktok_shop.config, "shop_id": shop_id}
    tiktok_shop.save()
    body = tiktok.raw("webhooks__seller_deauthorization")
    webhook = _received(tiktok_shop, body, tiktok.signed(body))
    assert webhook_process(webhook_id=webhook.pk) == "ignored"
    assert Integration.objects.get(pk=tiktok_shop.pk).access_token == "ROW_AccessToken_0000"


def _revocation(username: str, user_id: str) -> bytes:
    return json.dumps({
        "metadata": {"topic": "AUTHORIZATION_REVOCATION", "schemaVersion": "1.0", "deprecated": False},
        "notification": {"notificationId": f"revocation-{user_id}", "eventDate": "2024-03-01T08:00:05.000Z",
                         "publishDate": "2024-03-01T08:00:06.000Z", "publishAttemptCount": 1,
                         "data": {"username": username, "userId": user_id, "eiasToken": "nY+sHZ2PrBmdj6wVnY+sEZ2PrA2d",
                                  "revokeReason": "REVOKED_BY_USER", "revocationDate": "2024-03-01T08:00:00.000Z"}},
    }, separators=(",", ":")).encode()


@responses.activate
def test_ebay_revocation_of_this_seller_disconnects(ebay_seller, private_key, ebay_keys):
    ebay_seller.config = {"ebay_username": "acme_seller"}
    ebay_seller.save()
    body = _revocation("acme_seller", "u1Acme")
    webhook = _received(ebay_seller, body, ebay.signed(body, private_key))
    calls = len(responses.calls)  # the key fetch of the signature check
    assert webhook_process(webhook_id=webhook.pk) == "completed"
    assert len(responses.calls) == calls  # nothing sent to eBay while disconnecting
    assert _disconnected(ebay_seller)


@responses.activate
def test_ebay_revocation_of_another_seller_is_ignored(ebay_seller, private_key, ebay_keys):
    ebay_seller.config = {"ebay_username": "acme_seller"}
    ebay_seller.save()
    body = _revocation("someone_else", "u2Other")
    webhook = _received(ebay_seller, body, ebay.signed(body, private_key))
    assert webhook.event_type == "AUTHORIZATION_REVOCATION"
    assert webhook_process(webhook_id=webhook.pk) == "ignored"
    assert Integration.objects.get(pk=ebay_seller.pk).status == "active"
