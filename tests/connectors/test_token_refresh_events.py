"""A refused refresh publishes integration.error once, on the move to pending_auth, whoever called the provider
(a sync's call here; the API's and the beat's refresh go through the same locked refresh)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import responses
from django.utils import timezone

from connectors.errors import RefreshFailed
from tests.connectors import http_fakes
from tests.connectors.http_fakes import TOKEN_URL, FakeShopConnector, make_integration
from tests.integrations.oauth_fakes import published, subscribe_all

shop = http_fakes.fake_shops  # the fixture, re-bound (nothing shadows an import)


@responses.activate
def test_a_refused_refresh_inside_a_call_publishes_integration_error_once(shop):
    integration = make_integration(expires_at=timezone.now() - timedelta(minutes=5))
    subscribe_all(integration.organization)
    responses.post(TOKEN_URL, status=400, json={"error": "invalid_grant", "error_description": "refresh token revoked"})

    for _ in range(2):  # the next call of the same sync meets the same dead refresh token
        with pytest.raises(RefreshFailed):
            FakeShopConnector(integration).http.get("/admin/shop.json", action="get_shop")
        integration.status = "active"  # a caller's stale copy: the row decides

    [event] = published(integration.organization, "integration.error")
    assert event["code"] == "REFRESH_FAILED" and event["status"] == "pending_auth" and event["transient"] is False
    assert event["integration"]["id"] == integration.pk and "refresh token revoked" in event["error"]
    assert "refresh-token-RRRR2222" not in event["error"]


@responses.activate
def test_a_transient_refresh_failure_publishes_nothing(shop, settings):
    settings.PROVIDER_MAX_RETRIES = 0
    integration = make_integration(expires_at=timezone.now() - timedelta(minutes=5))
    subscribe_all(integration.organization)
    responses.post(TOKEN_URL, status=503)
    with pytest.raises(RefreshFailed):
        FakeShopConnector(integration).http.get("/admin/shop.json", action="get_shop")
    assert published(integration.organization, "integration.error") == []
