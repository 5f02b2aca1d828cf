"""Meta's ad account webhooks on the shared receiver (`/api/webhooks/meta/`): the subscription check, a signed
delivery stored then processed (the campaign it names re-read and imported), a tampered one refused."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import responses
from django.utils import timezone

from ads.models import Campaign
from ads.services import upsert_ad_accounts, upsert_campaigns
from integrations.models import ClaimProof, IntegrationStatus
from integrations.routing import accounts_claim
from tests.connectors.support import Recorded
from tests.factories import IntegrationFactory
from webhooks.inbound.processing import webhook_process
from webhooks.models import IncomingStatus, IncomingWebhook

GRAPH = "https://graph.facebook.com/v27.0"
APP_SECRET = "meta-app-secret"
fixture = Recorded("meta_ads")


@pytest.fixture
def integration(db, public_dns, sleeps, settings, nudges):
    settings.PROVIDER_SETTINGS = {"meta_ads": {"CLIENT_ID": "1234567890123", "CLIENT_SECRET": APP_SECRET,
                                               "WEBHOOK_VERIFY_TOKEN": "app-wide-verify-token"}}
    integration = IntegrationFactory(provider="meta_ads", type="advertising", status=IntegrationStatus.ACTIVE,
                                     access_token="EAALongLivedUserToken0002",
                                     expires_at=timezone.now() + timedelta(days=50),
                                     credentials={"verify_token": "vt-ads-123456"},
                                     config={"ad_account_ids": ["1001"]})
    accounts_claim(integration=integration, proof=ClaimProof.OAUTH)
    upsert_ad_accounts(integration=integration, accounts=[{"external_id": "1001", "name": "Shop RO",
                                                           "currency": "RON"}])
    upsert_campaigns(integration=integration, campaigns=[{
        "external_id": "120210000000001", "account_external_id": "1001", "name": "Spring sale", "status": "active",
        "daily_budget": Decimal("25.00"), "currency": "RON", "updated_at": datetime(2026, 11, 20, 10, tzinfo=UTC)}])
    return integration


def delivery(secret: str = APP_SECRET) -> tuple[bytes, dict[str, str]]:
    body = fixture("webhook__campaign_changed")["body"].encode()
    return body, {"X-Hub-Signature-256": "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()}


def challenge(client, token: str):
    return client.get("/api/webhooks/meta/", {"hub.mode": "subscribe", "hub.verify_token": token,
                                              "hub.challenge": "1158201444"})


def test_the_challenge_is_echoed_only_for_a_right_verify_token(client, integration):
    for token in ("vt-ads-123456", "app-wide-verify-token"):
        answer = challenge(client, token)
        assert answer.status_code == 200 and answer.content == b"1158201444"
    refused = challenge(client, "vt-ads-12345")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "INVALID_VERIFY_TOKEN"
    assert not IncomingWebhook.objects.exists()


@responses.activate
def test_a_signed_delivery_is_stored_then_the_campaign_is_re_read_and_imported(client, integration):
    body, headers = delivery()
    answer = client.post("/api/webhooks/meta/", data=body, content_type="application/json", headers=headers)
    assert answer.status_code == 202
    webhook = IncomingWebhook.objects.get()
    assert (webhook.integration, webhook.signature_verified, webhook.event_type) == (
        integration, True, "ad_account.in_process_ad_objects")
    fixture.replay("GET", f"{GRAPH}/", "campaigns__by_id")
    fixture.replay("GET", f"{GRAPH}/me/adaccounts", "ad_accounts__page2")  # the currencies of the accounts
    webhook_process(webhook_id=webhook.pk)
    webhook.refresh_from_db()
    assert webhook.status == IncomingStatus.COMPLETED
    assert webhook.metadata["result"] == {"campaigns": {"created": 0, "updated": 1, "unchanged": 0}}
    campaign = Campaign.objects.get()
    assert (campaign.status, campaign.effective_status, campaign.external_updated_at) == (
        "paused", "PAUSED", datetime(2026, 11, 21, 9, tzinfo=UTC))
    assert responses.calls[0].request.url.startswith(f"{GRAPH}/?ids=120210000000001&")


def test_a_tampered_delivery_is_refused_and_not_stored(client, integration):
    body, headers = delivery()
    tampered = body.replace(b"PAUSED", b"ACTIVE")
    answer = client.post("/api/webhooks/meta/", data=tampered, content_type="application/json", headers=headers)
    assert answer.status_code == 401 and answer.json()["error"]["code"] == "INVALID_SIGNATURE"
    body, headers = delivery(secret="not-the-app-secret")
    assert client.post("/api/webhooks/meta/", data=body, content_type="application/json",
                       headers=headers).status_code == 401
    assert not IncomingWebhook.objects.exists()
