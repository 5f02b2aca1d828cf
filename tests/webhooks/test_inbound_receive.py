"""The receive endpoints: verify, store before answering, deduplicate, refuse what is unsigned, too big or unknown."""

from __future__ import annotations

import json
import time
from unittest import mock

import pytest
from django.db import OperationalError, connection
from kombu.exceptions import OperationalError as BrokerDown

from config.errors import ValidationError
from connectors import registry
from connectors.base import Connector
from connectors.capabilities import WebhookReceiver
from connectors.stripe import webhooks as stripe_webhooks
from integrations.models import ClaimProof, IntegrationLog
from integrations.routing import accounts_claim
from tests.connectors.support import hmac_hex
from tests.factories import IntegrationFactory, OrganizationFactory
from tests.webhooks.inbound_support import (
    SECRET,
    SHOP_DOMAIN,
    meta_integration,
    post,
    raw_order,
    receive_url,
    shopify_delivery,
)
from webhooks.models import IncomingWebhook, WebhookDelivery

pytestmark = pytest.mark.django_db


def test_a_signed_webhook_is_stored_as_received_and_answered_202(client, shop, nudges,
                                                                 django_capture_on_commit_callbacks):
    body, headers = shopify_delivery(raw_order(), topic="orders/create", webhook_id="wh-1")
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, receive_url(shop.route_key), body, headers)

    assert response.status_code == 202
    webhook = IncomingWebhook.objects.get()
    assert response.json() == {"id": webhook.pk, "status": "pending"}
    assert bytes(webhook.body) == body
    assert (webhook.integration, webhook.organization) == (shop, shop.organization)
    assert (webhook.event_type, webhook.external_id, webhook.source) == ("orders/create", "wh-1", "sandbox")
    assert webhook.signature_verified and webhook.signature == headers["X-Shopify-Hmac-Sha256"]
    assert webhook.remote_ip == "203.0.113.7"
    assert webhook.headers["X-Shopify-Topic"] == "orders/create"
    assert webhook.headers["X-Shopify-Hmac-Sha256"] == "[REDACTED]"
    assert webhook.max_retries == 5 and webhook.retry_count == 0
    assert nudges == [webhook.pk]  # queued once, after commit


def test_no_message_is_sent_before_the_row_commits(client, shop, nudges, django_capture_on_commit_callbacks):
    body, headers = shopify_delivery(raw_order())
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        post(client, receive_url(shop.route_key), body, headers)
    assert nudges == [] and len(callbacks) == 1


def test_the_same_provider_event_answers_200_with_the_first_id_and_is_not_queued_again(
    client, shop, nudges, django_capture_on_commit_callbacks
):
    body, headers = shopify_delivery(raw_order(), webhook_id="same-id")
    with django_capture_on_commit_callbacks(execute=True):
        first = post(client, receive_url(shop.route_key), body, headers)
        second = post(client, receive_url(shop.route_key), body, headers)
    assert first.status_code == 202 and second.status_code == 200
    assert second.json() == {"id": first.json()["id"], "status": "pending", "duplicate": True}
    assert IncomingWebhook.objects.count() == 1
    assert nudges == [first.json()["id"]]


def test_the_same_event_id_of_another_integration_is_another_webhook(client, shop, nudges):
    other = IntegrationFactory(organization=shop.organization, webhook_secret=SECRET)
    body, headers = shopify_delivery(raw_order(), webhook_id="shared")
    assert post(client, receive_url(shop.route_key), body, headers).status_code == 202
    assert post(client, receive_url(other.route_key), body, headers).status_code == 202
    assert IncomingWebhook.objects.count() == 2


@pytest.mark.parametrize("tamper", ["missing", "wrong_secret", "body_changed"])
def test_a_bad_signature_is_401_logged_without_the_body_and_nothing_stored(client, shop, nudges, tamper):
    body, headers = shopify_delivery(raw_order(email="secret-customer@example.com"))
    if tamper == "missing":
        del headers["X-Shopify-Hmac-Sha256"]
    elif tamper == "wrong_secret":
        headers["X-Shopify-Hmac-Sha256"] = shopify_delivery(body, secret="not-the-secret")[1]["X-Shopify-Hmac-Sha256"]
    else:
        body = body.replace(b"secret-customer", b"other-customer")

    response = post(client, receive_url(shop.route_key), body, headers)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "INVALID_SIGNATURE"
    assert IncomingWebhook.objects.count() == 0 and nudges == []
    log = IntegrationLog.objects.get()
    assert (log.integration, log.organization, log.direction, log.status_code) == (
        shop, shop.organization, "inbound", 401)
    assert log.action == "webhook_rejected" and log.endpoint == receive_url(shop.route_key)
    assert log.request["body_bytes"] == len(body)
    stored = json.dumps([log.request, log.response, log.metadata, log.error_message])
    assert "customer@example.com" not in stored and SECRET not in stored
    if tamper != "missing":
        assert log.request["headers"]["X-Shopify-Hmac-Sha256"] == "[REDACTED]"


def test_an_integration_without_a_webhook_secret_verifies_nothing(client, nudges):
    integration = IntegrationFactory(webhook_secret="", api_secret="")
    body, headers = shopify_delivery(raw_order(), secret="")
    assert post(client, receive_url(integration.route_key), body, headers).status_code == 401


def test_an_unknown_code_is_404_and_leaves_no_trace(client, nudges):
    body, headers = shopify_delivery(raw_order())
    response = post(client, receive_url("no-such-shop"), body, headers)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "INTEGRATION_NOT_FOUND"
    assert not IncomingWebhook.objects.exists() and not IntegrationLog.objects.exists()


def test_only_post_is_allowed(client, shop):
    assert client.get(receive_url(shop.route_key)).status_code == 405


def test_a_body_over_the_limit_is_413_before_it_is_read(client, shop, nudges, settings):
    settings.WEBHOOK_MAX_BODY_BYTES = 1024
    body, headers = shopify_delivery(raw_order(note="x" * 2000))
    with mock.patch("django.core.handlers.wsgi.LimitedStream.read") as read:
        response = post(client, receive_url(shop.route_key), body, headers)
    read.assert_not_called()
    assert response.status_code == 413
    assert response.json()["error"] == {"code": "PAYLOAD_TOO_LARGE", "message": "The request body is too large.",
                                        "details": {"max_bytes": 1024, "content_length": len(body)}}
    assert not IncomingWebhook.objects.exists()


def test_a_body_longer_than_its_content_length_claims_is_cut_at_the_cap(rf, shop, settings):
    from webhooks.inbound.views import read_body

    settings.WEBHOOK_MAX_BODY_BYTES = 10
    request = rf.post("/", data=b"x" * 50, content_type="application/json", CONTENT_LENGTH="5")  # a lying header
    assert read_body(request) == b"xxxxx"
    request = rf.post("/", data=b"y" * 50, content_type="application/json", CONTENT_LENGTH="")
    assert read_body(request) == b""
    request = rf.post("/", data=b"z" * 50, content_type="application/json", CONTENT_LENGTH="ten")
    with pytest.raises(ValidationError):
        read_body(request)


def test_a_body_at_the_limit_is_accepted(client, shop, nudges, settings):
    body, headers = shopify_delivery(raw_order())
    settings.WEBHOOK_MAX_BODY_BYTES = len(body)
    assert post(client, receive_url(shop.route_key), body, headers).status_code == 202


def test_a_signed_body_that_is_not_json_is_stored_failed_with_the_reason(client, shop, nudges,
                                                                        django_capture_on_commit_callbacks):
    body, headers = shopify_delivery(b"<xml>not json</xml>")
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, receive_url(shop.route_key), body, headers, content_type="application/xml")
    assert response.status_code == 202
    webhook = IncomingWebhook.objects.get()
    assert response.json() == {"id": webhook.pk, "status": "failed"}
    assert bytes(webhook.body) == body and webhook.status == "failed" and webhook.processed_at
    assert webhook.error_message.startswith("The body is not valid JSON")
    assert nudges == []


def test_a_signed_json_body_the_connector_cannot_read_is_stored_failed(client, shop, nudges):
    body, headers = shopify_delivery(raw_order())
    del headers["X-Shopify-Topic"]
    response = post(client, receive_url(shop.route_key), body, headers)
    assert response.status_code == 202 and response.json()["status"] == "failed"
    assert "X-Shopify-Topic" in IncomingWebhook.objects.get().error_message


def test_a_failed_webhook_at_receipt_is_published_as_webhook_failed(client, shop, nudges):
    from tests.webhooks.outbound_support import make_endpoint

    with mock.patch("connectors.outbound.resolve", return_value=[__import__("ipaddress").ip_address("93.184.216.34")]):
        make_endpoint(shop.organization, "https://hooks.example.com/in", events=["webhook.failed"])
    body, headers = shopify_delivery(b"not json")
    with mock.patch("webhooks.events.nudge_dispatcher"):
        post(client, receive_url(shop.route_key), body, headers)
    delivery = WebhookDelivery.objects.get()
    assert delivery.event == "webhook.failed"
    assert delivery.payload["data"]["incoming_webhook"]["id"] == IncomingWebhook.objects.get().pk


def test_broker_down_still_stores_and_answers_202(client, shop, django_capture_on_commit_callbacks):
    from webhooks.inbound.tasks import process_incoming_webhooks

    body, headers = shopify_delivery(raw_order())
    with mock.patch.object(process_incoming_webhooks, "apply_async", side_effect=BrokerDown("Connection refused")):
        with django_capture_on_commit_callbacks(execute=True):
            response = post(client, receive_url(shop.route_key), body, headers)
    assert response.status_code == 202
    assert IncomingWebhook.objects.get().status == "pending"  # the sweeper will find it


def test_database_down_answers_503_so_the_provider_retries(client, shop):
    body, headers = shopify_delivery(raw_order())
    with mock.patch.object(connection, "ensure_connection", side_effect=OperationalError("server closed")):
        response = post(client, receive_url(shop.route_key), body, headers)
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert response.json()["error"]["code"] == "SERVICE_UNAVAILABLE"
    assert not IncomingWebhook.objects.exists()


def test_database_failing_at_insert_answers_503(client, shop):
    body, headers = shopify_delivery(raw_order())
    with mock.patch("webhooks.inbound.services.incoming_insert", side_effect=OperationalError("disk full")):
        response = post(client, receive_url(shop.route_key), body, headers)
    assert response.status_code == 503
    assert not IncomingWebhook.objects.exists()


# ---------------------------------------------------------------- /api/webhooks/shopify/


@pytest.fixture
def claimed_shop(org):
    """A Shopify integration that claimed SHOP_DOMAIN (its secret: SECRET, as during an app secret rotation)."""
    integration = IntegrationFactory(organization=org, provider="shopify", webhook_secret=SECRET,
                                     config={"shop_domain": SHOP_DOMAIN})
    accounts_claim(integration=integration, proof=ClaimProof.STAFF)
    return integration


def test_shopify_endpoint_finds_the_integration_that_claimed_the_shop(client, claimed_shop, nudges):
    body, headers = shopify_delivery(raw_order(), webhook_id="dom-1")
    response = post(client, "/api/webhooks/shopify/", body, {**headers, "X-Shopify-Shop-Domain": SHOP_DOMAIN.upper()})
    assert response.status_code == 202
    assert IncomingWebhook.objects.get().integration == claimed_shop


def test_shopify_endpoint_tries_only_the_owner_whatever_else_verifies(client, claimed_shop, nudges):
    IntegrationFactory(organization=OrganizationFactory(), provider="shopify",
                       webhook_secret="another-shops-secret-1", config={"shop_domain": SHOP_DOMAIN})
    body, headers = shopify_delivery(raw_order(), secret="another-shops-secret-1")
    assert post(client, "/api/webhooks/shopify/", body, headers).status_code == 401
    assert not IncomingWebhook.objects.exists()


def test_shopify_endpoint_unknown_domain_is_404_and_bad_signature_401(client, claimed_shop, nudges):
    body, headers = shopify_delivery(raw_order())
    assert post(client, "/api/webhooks/shopify/", body, {**headers, "X-Shopify-Shop-Domain": "x.myshopify.com"}
                ).status_code == 404
    headers.pop("X-Shopify-Shop-Domain")
    assert post(client, "/api/webhooks/shopify/", body, headers).status_code == 404
    body, headers = shopify_delivery(raw_order(), secret="wrong")
    assert post(client, "/api/webhooks/shopify/", body, headers).status_code == 401
    assert IntegrationLog.objects.get().integration == claimed_shop


# ---------------------------------------------------------------- Meta


def _meta_post(client, body: bytes, secret: str):
    signature = f"sha256={hmac_hex(secret, body)}"
    return post(client, "/api/webhooks/meta/", body, {"X-Hub-Signature-256": signature})


def test_meta_subscription_check_echoes_the_challenge_for_a_known_verify_token(client, meta_connector):
    IntegrationFactory(provider="test-meta", credentials={"verify_token": "vt-123456"})
    ok = client.get("/api/webhooks/meta/", {"hub.mode": "subscribe", "hub.verify_token": "vt-123456",
                                            "hub.challenge": "1158201444"})
    assert ok.status_code == 200 and ok.content == b"1158201444"
    assert ok["Content-Type"].startswith("text/plain")
    bad = client.get("/api/webhooks/meta/", {"hub.mode": "subscribe", "hub.verify_token": "nope",
                                             "hub.challenge": "1"})
    assert bad.status_code == 403 and bad.json()["error"]["code"] == "INVALID_VERIFY_TOKEN"
    assert client.get("/api/webhooks/meta/", {"hub.verify_token": "vt-123456", "hub.challenge": "1"}
                      ).status_code == 403


def test_meta_post_goes_to_the_integration_that_claimed_the_page(client, meta_connector, nudges):
    meta_integration(webhook_secret="shared-app-secret", config={"pages": ["41"]})
    second = meta_integration(webhook_secret="shared-app-secret", config={"pages": ["42"]})
    IntegrationFactory(provider="test-meta", webhook_secret="shared-app-secret")  # names nothing, claims nothing
    body = json.dumps({"object": "page", "entry": [{"id": "42", "time": int(time.time()), "changes": []}]}).encode()
    response = _meta_post(client, body, "shared-app-secret")
    assert response.status_code == 202
    webhook = IncomingWebhook.objects.get()
    assert webhook.integration == second and webhook.event_type == "page"
    assert webhook.external_id.startswith("sha256:")
    assert _meta_post(client, body, "shared-app-secret").status_code == 200  # Meta's redelivery: same body
    assert _meta_post(client, body, "unknown-secret").status_code == 401


def test_meta_post_for_an_ad_account_nobody_claimed_is_404(client, meta_connector, nudges):
    IntegrationFactory(provider="test-meta", webhook_secret="shared-app-secret", config={"ad_accounts": ["act_77"]})
    body = json.dumps({"object": "ad_account", "entry": [{"id": "act_77", "time": 1}]}).encode()
    assert _meta_post(client, body, "shared-app-secret").status_code == 404
    assert not IncomingWebhook.objects.exists()


def test_meta_batch_of_two_owners_is_refused_and_logged_never_guessed(client, meta_connector, nudges, caplog):
    meta_integration(webhook_secret="shared-app-secret", config={"pages": ["1"]})
    meta_integration(webhook_secret="shared-app-secret", config={"ad_accounts": ["act_77"]})
    body = json.dumps({"object": "page", "entry": [{"id": "1", "time": 1}, {"id": "act_77", "time": 1}]}).encode()
    response = _meta_post(client, body, "shared-app-secret")
    assert response.status_code == 409 and response.json()["error"]["code"] == "WEBHOOK_ROUTE_AMBIGUOUS"
    assert not IncomingWebhook.objects.exists()
    assert any("claimed by 2 integrations" in r.getMessage() for r in caplog.records)


def test_meta_without_any_meta_integration_is_404(client):
    assert _meta_post(client, b"{}", "x").status_code == 404


# ---------------------------------------------------------------- a scheme-only connector (Stripe)


class StripeLikeConnector(WebhookReceiver, Connector):
    key = "test-stripe"
    display_name = "Test Stripe"
    integration_type = "payment_gateway"
    webhook_scheme = stripe_webhooks.SCHEME


def test_a_connector_naming_a_scheme_gets_that_verifier_and_event_ids(client, nudges):
    import stripe

    registry.register(StripeLikeConnector)
    try:
        integration = IntegrationFactory(provider="test-stripe", webhook_secret="whsec_stripe_test_1")
        body = json.dumps({"id": "evt_9", "object": "event", "type": "charge.succeeded"}).encode()
        header = stripe.WebhookSignature.generate_signature_header(body.decode(), "whsec_stripe_test_1")
        response = post(client, receive_url(integration.route_key), body, {"Stripe-Signature": header})
        assert response.status_code == 202
        webhook = IncomingWebhook.objects.get()
        assert (webhook.event_type, webhook.external_id) == ("charge.succeeded", "evt_9")
        old = stripe.WebhookSignature.generate_signature_header(body.decode(), "whsec_stripe_test_1",
                                                                timestamp=int(time.time()) - 301)
        assert post(client, receive_url(integration.route_key), body, {"Stripe-Signature": old}).status_code == 401
    finally:
        registry.unregister(StripeLikeConnector.key)


def test_app_level_addresses_answer_other_methods_405_with_what_they_allow(client):
    shopify = client.get("/api/webhooks/shopify/")
    assert shopify.status_code == 405 and shopify["Allow"] == "POST"
    meta = client.put("/api/webhooks/meta/", b"{}", content_type="application/json")
    assert meta.status_code == 405 and meta["Allow"] == "GET, POST"
    assert not IncomingWebhook.objects.exists()
