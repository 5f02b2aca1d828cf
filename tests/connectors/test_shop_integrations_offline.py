"""The demo can add a WooCommerce or Trendyol integration from the admin with no network, and its
connection test fails with a readable message, never a traceback (issue 9)."""

from __future__ import annotations

import html
import json
import socket

import pytest

from connectors import http, outbound
from integrations.models import Integration
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

CASES = {
    "woocommerce": {"api_endpoint": "https://shop.acme-ro.example", "config": {}},
    "trendyol": {"api_endpoint": "", "config": {"seller_id": "123456"}},
}


@pytest.fixture
def offline(monkeypatch):
    def no_dns(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(outbound.socket, "getaddrinfo", no_dns)
    monkeypatch.setattr(http, "sleep", lambda seconds: None)


@pytest.mark.parametrize("provider", sorted(CASES))
def test_added_from_the_admin_and_its_test_fails_readably(client, org, offline, provider):
    from accounts.models import Membership

    user = UserFactory(is_staff=True)
    Membership.objects.create(user=user, organization=org, role="admin")
    client.force_login(user)
    case = CASES[provider]
    form = {"organization": org.pk, "name": f"Acme {provider}", "code": f"acme-{provider}", "type": "ecommerce",
            "provider": provider, "status": "inactive", "config": json.dumps(case["config"]), "metadata": "{}",
            "scope": "[]", "sync_interval_minutes": 0, "description": "", "api_endpoint": case["api_endpoint"],
            "token_type": "", "api_key_new": "ck_key_0001", "api_secret_new": "cs_secret_0001"}
    response = client.post("/admin/integrations/integration/add/", form)
    assert response.status_code == 302, response.content.decode()[-3000:]
    integration = Integration.objects.get(code=f"acme-{provider}")

    response = client.post("/admin/integrations/integration/", {
        "action": "test_connection", "_selected_action": [integration.pk]}, follow=True)

    assert response.status_code == 200
    integration.refresh_from_db()
    assert "does not resolve" in integration.last_error, integration.last_error
    page = response.content.decode()
    assert html.escape(integration.last_error) in page and "Traceback" not in page
    assert "cs_secret_0001" not in page and "cs_secret_0001" not in integration.last_error
