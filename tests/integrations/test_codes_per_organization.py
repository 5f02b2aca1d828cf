"""Integration codes are unique per organization; provider-facing URLs use a global route key instead.

"Already in use" used to confirm another tenant's code, because codes were one global namespace.
"""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from integrations.models import Integration
from tests.factories import IntegrationFactory, OrganizationFactory
from tests.webhooks.inbound_support import SECRET, post, raw_order, shopify_delivery
from webhooks.models import IncomingWebhook

pytestmark = pytest.mark.django_db

URL = "/api/integrations/"


def create(api, code="shop-ro"):
    return api.post(URL, {"name": "Shop RO", "code": code, "provider": "sandbox", "webhook_secret": SECRET},
                    format="json")


def test_two_organizations_both_have_shop_ro_and_each_url_reaches_its_own(client, api_client_for, org, other_org,
                                                                          nudges, settings):
    settings.PUBLIC_BASE_URL = "https://hub.example.com"
    mine, theirs = create(api_client_for(org, "admin")), create(api_client_for(other_org, "admin"))
    assert (mine.status_code, theirs.status_code) == (201, 201), (mine.json(), theirs.json())
    assert mine.json()["code"] == theirs.json()["code"] == "shop-ro"
    assert mine.json()["webhook_url"] != theirs.json()["webhook_url"]

    for created, organization in ((mine, org), (theirs, other_org)):
        path = created.json()["webhook_url"].removeprefix("https://hub.example.com")
        assert path == f"/api/webhooks/receive/{created.json()['route_key']}/"
        body, headers = shopify_delivery(raw_order())
        assert post(client, path, body, headers).status_code == 202
        assert IncomingWebhook.objects.latest("pk").integration_id == created.json()["id"]
        assert IncomingWebhook.objects.latest("pk").organization_id == organization.pk
    assert post(client, "/api/webhooks/receive/shop-ro/", *shopify_delivery(raw_order())).status_code == 404


def test_the_same_code_twice_in_one_organization_is_already_in_use(api_client_for, org):
    api = api_client_for(org, "admin")
    assert create(api).status_code == 201
    again = create(api)
    assert again.status_code == 400
    assert again.json()["error"]["details"] == {"code": ["already in use"]}


def test_another_organizations_code_is_neither_refused_nor_revealed(api_client_for, org, other_org):
    IntegrationFactory(organization=other_org, code="shop-ro")
    created = create(api_client_for(org, "admin"))
    assert created.status_code == 201
    assert "shop-ro-" in created.json()["route_key"] and created.json()["route_key"] != "shop-ro"
    renamed = api_client_for(org, "admin").patch(f"{URL}{IntegrationFactory(organization=org).pk}/",
                                                 {"code": "shop-ro-2"}, format="json")
    assert renamed.status_code == 200


def test_an_integration_from_before_keeps_its_code_url(client, org, nudges):
    """The migration gave every existing integration its code as route key."""
    legacy = IntegrationFactory(organization=org, code="legacy-shop", route_key="legacy-shop", webhook_secret=SECRET)
    IntegrationFactory(organization=OrganizationFactory(), code="legacy-shop")  # now allowed elsewhere
    assert post(client, "/api/webhooks/receive/legacy-shop/", *shopify_delivery(raw_order())).status_code == 202
    assert IncomingWebhook.objects.get().integration == legacy


def test_a_command_refuses_a_code_two_organizations_use_until_told_which(org, other_org):
    IntegrationFactory(organization=org, code="shop-ro")
    IntegrationFactory(organization=other_org, code="shop-ro")
    with pytest.raises(CommandError, match="ORGANIZATION_SLUG/CODE"):
        call_command("retry_webhooks", "--integration", "shop-ro")
    call_command("retry_webhooks", "--integration", f"{org.slug}/shop-ro")
    assert Integration.objects.count() == 2
