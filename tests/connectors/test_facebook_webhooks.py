"""Facebook Page webhooks on the one shared Meta receiver (`/api/webhooks/meta/`): the subscription check, a signed
page `feed` change routed by the claimed page to the Pages integration (an ad account's integration on the same
address keeps its own), stored, then processed by re-reading the post and importing it; a removal ignored; a
tampered delivery refused."""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta

import pytest
import responses
from django.utils import timezone

from integrations.models import ClaimProof, IntegrationStatus
from integrations.routing import accounts_claim
from social.models import Post, PostMetrics, SocialAccount
from tests.connectors.support import Recorded
from tests.factories import IntegrationFactory
from webhooks.inbound.processing import webhook_process
from webhooks.models import IncomingStatus, IncomingWebhook

GRAPH = "https://graph.facebook.com/v27.0"
PAGE = "104000000000001"
POST_ID = f"{PAGE}_900000000000001"
APP_SECRET = "fb-app-secret"
fixture = Recorded("facebook")


@pytest.fixture
def pages(db, public_dns, sleeps, settings, nudges):
    settings.PROVIDER_SETTINGS = {
        "facebook": {"CLIENT_ID": "fb-app-id", "CLIENT_SECRET": APP_SECRET, "WEBHOOK_VERIFY_TOKEN": "vt-pages-app"},
        "meta_ads": {"CLIENT_ID": "1234567890123", "CLIENT_SECRET": "meta-app-secret"},
    }
    integration = IntegrationFactory(provider="facebook", type="social", status=IntegrationStatus.ACTIVE,
                                     access_token="EAAFbLongUserToken0002",
                                     expires_at=timezone.now() + timedelta(days=50),
                                     config={"page_ids": [PAGE]},
                                     credentials={"page_tokens": {PAGE: "EAAFbPageTokenAcme1111"}})
    accounts_claim(integration=integration, proof=ClaimProof.OAUTH)
    ads = IntegrationFactory(provider="meta_ads", type="advertising", status=IntegrationStatus.ACTIVE,
                             access_token="EAALongLivedUserToken0002", config={"ad_account_ids": ["1001"]},
                             credentials={"verify_token": "vt-ads-123456"})
    accounts_claim(integration=ads, proof=ClaimProof.OAUTH)
    account = SocialAccount.objects.create(organization=integration.organization, integration=integration,
                                           external_id=PAGE, name="Acme Shop")
    Post.objects.create(organization=integration.organization, account=account, external_id=POST_ID,
                        caption="Winter sale starts today", status="published")
    return integration


def delivery(name: str = "webhook__feed_edited", secret: str = APP_SECRET) -> tuple[bytes, dict[str, str]]:
    body = fixture(name)["body"].encode()
    return body, {"X-Hub-Signature-256": "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()}


def post(client, body: bytes, headers: dict[str, str]):
    return client.post("/api/webhooks/meta/", data=body, content_type="application/json", headers=headers)


def test_the_shared_address_answers_the_pages_verify_token_too(client, pages):
    for token in ("vt-pages-app", "vt-ads-123456"):
        answer = client.get("/api/webhooks/meta/", {"hub.mode": "subscribe", "hub.verify_token": token,
                                                    "hub.challenge": "1158201444"})
        assert answer.status_code == 200 and answer.content == b"1158201444"
    refused = client.get("/api/webhooks/meta/", {"hub.mode": "subscribe", "hub.verify_token": "vt-pages-ap",
                                                 "hub.challenge": "1158201444"})
    assert refused.status_code == 403
    assert not IncomingWebhook.objects.exists()


@responses.activate
def test_a_signed_page_feed_change_is_stored_then_the_post_is_re_read_and_imported(client, pages):
    body, headers = delivery()
    answer = post(client, body, headers)
    assert answer.status_code == 202
    webhook = IncomingWebhook.objects.get()
    assert (webhook.integration, webhook.signature_verified, webhook.event_type) == (
        pages, True, "page.feed.status.edited")
    fixture.replay("GET", f"{GRAPH}/", "posts__by_id")
    fixture.replay("GET", f"{GRAPH}/{POST_ID}/insights", "post_insights__1")

    webhook_process(webhook_id=webhook.pk)

    webhook.refresh_from_db()
    assert webhook.status == IncomingStatus.COMPLETED
    assert webhook.metadata["result"] == {"posts": {"created": 0, "updated": 1, "unchanged": 0}}
    assert responses.calls[0].request.url.startswith(f"{GRAPH}/?ids={POST_ID}&")
    assert responses.calls[0].request.headers["Authorization"] == "Bearer EAAFbPageTokenAcme1111"
    updated = Post.objects.get(external_id=POST_ID)
    assert updated.caption == "Winter sale starts today — now 30% off"
    assert (PostMetrics.objects.get(post=updated).likes, Post.objects.count()) == (61, 1)
    # a redelivery of the same body is acknowledged, not stored again
    again = post(client, body, headers)
    assert again.status_code == 200 and again.json()["duplicate"] is True


def test_a_removed_post_is_stored_and_ignored(client, pages):
    body, headers = delivery("webhook__feed_removed")
    assert post(client, body, headers).status_code == 202
    webhook = IncomingWebhook.objects.get()
    webhook_process(webhook_id=webhook.pk)
    webhook.refresh_from_db()
    assert webhook.status == IncomingStatus.IGNORED
    assert Post.objects.get(external_id=POST_ID).caption == "Winter sale starts today"


def test_an_ad_account_delivery_on_the_same_address_still_reaches_the_ad_integration(client, pages):
    body = Recorded("meta_ads")("webhook__campaign_changed")["body"].encode()
    signature = "sha256=" + hmac.new(b"meta-app-secret", body, hashlib.sha256).hexdigest()
    assert post(client, body, {"X-Hub-Signature-256": signature}).status_code == 202
    assert IncomingWebhook.objects.get().integration.provider == "meta_ads"


def test_a_tampered_or_wrongly_signed_page_delivery_is_refused_and_not_stored(client, pages):
    body, headers = delivery()
    answer = post(client, body.replace(b"30%", b"90%"), headers)
    assert answer.status_code == 401 and answer.json()["error"]["code"] == "INVALID_SIGNATURE"
    body, headers = delivery(secret="meta-app-secret")  # the ad app's secret does not sign page deliveries
    assert post(client, body, headers).status_code == 401
    assert not IncomingWebhook.objects.exists()
