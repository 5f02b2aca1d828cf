"""An ad account integration on Meta (recorded answers) with one account and one campaign imported."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from ads.models import Campaign
from ads.services import upsert_ad_accounts, upsert_campaigns
from connectors.sessions import close_sessions
from integrations.models import IntegrationStatus
from tests.connectors.support import Recorded
from tests.factories import IntegrationFactory

GRAPH = "https://graph.facebook.com/v27.0"
CAMPAIGN_ID = "120210000000001"
meta = Recorded("meta_ads")


@pytest.fixture
def ads_integration(org, public_dns, sleeps, settings):
    settings.PROVIDER_SETTINGS = {"meta_ads": {"CLIENT_ID": "1234567890123", "CLIENT_SECRET": "meta-app-secret"}}
    integration = IntegrationFactory(organization=org, provider="meta_ads", type="advertising",
                                     status=IntegrationStatus.ACTIVE, access_token="EAALongLivedUserToken0002",
                                     expires_at=timezone.now() + timedelta(days=50),
                                     config={"ad_account_ids": ["1001"]})
    yield integration
    close_sessions()


@pytest.fixture
def campaign(ads_integration) -> Campaign:
    upsert_ad_accounts(integration=ads_integration, accounts=[{"external_id": "1001", "name": "Shop RO",
                                                               "currency": "RON"}])
    upsert_campaigns(integration=ads_integration, campaigns=[{
        "external_id": CAMPAIGN_ID, "account_external_id": "1001", "name": "Spring sale", "status": "active",
        "effective_status": "ACTIVE", "daily_budget": Decimal("25.00"), "currency": "RON",
        "updated_at": datetime(2026, 11, 20, 10, tzinfo=UTC)}])
    return Campaign.objects.select_related("integration").get()
