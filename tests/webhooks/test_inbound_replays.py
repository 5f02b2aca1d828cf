"""Shopify-scheme replays: `X-Shopify-Webhook-Id` is not signed, so a captured body re-posted under a new id
(or none) must be recognised by what is signed — the body — together with its topic and shop."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from tests.factories import IntegrationFactory
from tests.webhooks.inbound_support import SECRET, post, raw_order, receive_url, shopify_delivery
from webhooks.models import IncomingWebhook

pytestmark = pytest.mark.django_db


@pytest.fixture
def shopify(org):
    return IntegrationFactory(organization=org, provider="shopify", webhook_secret=SECRET,
                              config={"shop_domain": "inbound-test.myshopify.com"})


def test_a_replay_under_a_new_id_is_acknowledged_and_neither_stored_nor_processed_again(
        client, shopify, nudges, django_capture_on_commit_callbacks):
    body, headers = shopify_delivery(raw_order(), topic="orders/updated", webhook_id="original-1")
    with django_capture_on_commit_callbacks(execute=True):
        first = post(client, receive_url(shopify.route_key), body, headers)
    assert first.status_code == 202

    with django_capture_on_commit_callbacks(execute=True):
        replay = post(client, receive_url(shopify.route_key), body, {**headers, "X-Shopify-Webhook-Id": "forged-2"})

    assert replay.status_code == 200
    assert replay.json() == {"id": first.json()["id"], "status": "pending", "duplicate": True}
    assert IncomingWebhook.objects.count() == 1 and nudges == [first.json()["id"]]


def test_a_replay_without_an_id_is_acknowledged_and_not_stored(client, shopify, nudges,
                                                               django_capture_on_commit_callbacks):
    body, headers = shopify_delivery(raw_order(), webhook_id="original-1")
    with django_capture_on_commit_callbacks(execute=True):
        first = post(client, receive_url(shopify.route_key), body, headers)
    headers.pop("X-Shopify-Webhook-Id")

    with django_capture_on_commit_callbacks(execute=True):
        replay = post(client, receive_url(shopify.route_key), body, headers)

    assert replay.status_code == 200 and replay.json()["id"] == first.json()["id"]
    assert IncomingWebhook.objects.count() == 1 and nudges == [first.json()["id"]]


def test_the_same_body_under_another_topic_is_another_event(client, shopify, nudges):
    """orders/create and orders/paid of one order often carry byte-identical bodies."""
    body, headers = shopify_delivery(raw_order(), topic="orders/create")
    assert post(client, receive_url(shopify.route_key), body, headers).status_code == 202
    _, paid = shopify_delivery(raw_order(), topic="orders/paid")
    assert post(client, receive_url(shopify.route_key), body, paid).status_code == 202
    assert IncomingWebhook.objects.count() == 2


def test_after_the_replay_window_the_same_body_is_stored_again(client, shopify, nudges, provider_settings):
    provider_settings("shopify", REPLAY_WINDOW_HOURS="48")
    body, headers = shopify_delivery(raw_order())
    assert post(client, receive_url(shopify.route_key), body, headers).status_code == 202
    with time_machine.travel(timezone.now() + timedelta(hours=49)):
        again = post(client, receive_url(shopify.route_key), body, {**headers, "X-Shopify-Webhook-Id": "later"})
    assert again.status_code == 202 and IncomingWebhook.objects.count() == 2
