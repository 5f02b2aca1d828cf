"""One owner per provider account: a shop's app-level webhooks reach only the integration that proved it holds it.

The attack this guards against: organization B creates a Shopify integration naming A's shop before A
connects, and Shopify's `customers/data_request` for that shop (customer data) lands in B.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from urllib.parse import parse_qsl, urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from connectors.base import TokenSet
from connectors.shopify.auth import callback_hmac
from connectors.shopify.connector import ShopifyConnector
from integrations.models import AccountClaim, ClaimProof, Integration
from integrations.oauth.flow import oauth_complete, oauth_initiate
from integrations.routing import AccountAlreadyClaimed, accounts_claim
from integrations.services import integration_update
from tests.connectors.http_fakes import fake_public_dns
from tests.factories import IntegrationFactory, MembershipFactory, OrganizationFactory
from tests.webhooks.inbound_support import post, shopify_sign
from webhooks.models import IncomingWebhook

APP_ID, APP_SECRET = "shopify-app-id-0001", "shopify-app-secret-0002"
SHOP = "acme-ro.myshopify.com"
REDIRECT = "https://erp.example.com/oauth/done"


@pytest.fixture
def shopify_app(settings, monkeypatch, provider_settings):
    """Switchyard's Shopify app, and a shop that grants it a token (no network)."""
    provider_settings("shopify", CLIENT_ID=APP_ID, CLIENT_SECRET=APP_SECRET)
    settings.OAUTH_ALLOWED_REDIRECT_URIS = ["https://erp.example.com/oauth/"]
    fake_public_dns(monkeypatch)
    monkeypatch.setattr(ShopifyConnector, "exchange_code",
                        lambda self, code, **kw: TokenSet(access_token=f"shpat_{uuid.uuid4().hex}"))
    monkeypatch.setattr(ShopifyConnector, "account_display_name", lambda self: "Acme RO")
    monkeypatch.setattr(ShopifyConnector, "register_webhooks", lambda self, receive_url: [])


def install(organization, shop: str = SHOP, integration: Integration | None = None) -> dict[str, str]:
    """The shop's owner installs the app for `organization`: initiate, then Shopify's signed callback."""
    started = oauth_initiate(organization=organization, user=None, provider="shopify", redirect_uri=REDIRECT,
                             shop="" if integration else shop, integration_id=integration.pk if integration else None)
    query = {"code": "c0de", "shop": shop, "state": started.state, "timestamp": str(int(time.time()))}
    query["hmac"] = callback_hmac(query, APP_SECRET)
    return dict(parse_qsl(urlsplit(oauth_complete(provider="shopify", query=query)).query))


def data_request(client, shop: str = SHOP):
    body = json.dumps({"shop_domain": shop, "customer": {"id": 7, "email": "jane@example.com"},
                       "data_request": {"id": 9999}}).encode()
    headers = {"X-Shopify-Topic": "customers/data_request", "X-Shopify-Hmac-Sha256": shopify_sign(body, APP_SECRET),
               "X-Shopify-Shop-Domain": shop, "X-Shopify-Webhook-Id": str(uuid.uuid4())}
    return post(client, "/api/webhooks/shopify/", body, headers)


def squatter(shop: str = SHOP) -> Integration:
    """Organization B's integration naming the shop in its config, created before the shop's owner connects."""
    return IntegrationFactory(organization=OrganizationFactory(), provider="shopify", config={"shop_domain": shop})


def test_b_first_then_a_installs_a_owns_the_shop_and_gets_its_webhooks(db, client, shopify_app):
    b = squatter()
    a_org = OrganizationFactory()

    result = install(a_org)

    assert result["status"] == "success", result
    a = Integration.objects.get(pk=result["integration_id"])
    claim = AccountClaim.objects.get(kind="shopify.shop", account_id=SHOP)
    assert (claim.integration, claim.proof) == (a, ClaimProof.OAUTH)
    assert data_request(client).status_code == 202
    assert list(IncomingWebhook.objects.values_list("integration_id", flat=True)) == [a.pk]
    assert not IncomingWebhook.objects.filter(integration=b).exists()


def test_the_shop_claimed_by_a_second_organization_is_refused_naming_no_tenant(db, client, shopify_app):
    owner_org = OrganizationFactory(name="Acme Owner Ltd", slug="acme-owner")
    assert install(owner_org)["status"] == "success"
    second = OrganizationFactory()

    result = install(second)

    assert result["status"] == "error" and result["code"] == "ACCOUNT_ALREADY_CLAIMED", result
    assert "acme-owner" not in result["message"] and "Acme Owner" not in result["message"]
    assert not Integration.objects.filter(organization=second).exists()  # the refused connect stored nothing
    assert AccountClaim.objects.get().integration.organization == owner_org
    assert data_request(client).status_code == 202
    assert IncomingWebhook.objects.get().organization_id == owner_org.pk


def test_reconnecting_the_owner_keeps_its_claim(db, shopify_app):
    org = OrganizationFactory()
    first = install(org)
    integration = Integration.objects.get(pk=first["integration_id"])
    assert install(org, integration=integration)["status"] == "success"
    assert AccountClaim.objects.get().integration == integration


def test_naming_a_shop_in_an_integration_claims_nothing_and_routes_nothing(db, client, shopify_app, caplog):
    squatter()
    caplog.set_level(logging.WARNING, logger="webhooks.inbound.views")

    response = data_request(client)

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "INTEGRATION_NOT_FOUND"
    assert not AccountClaim.objects.exists() and not IncomingWebhook.objects.exists()
    assert any("no integration claimed acme-ro.myshopify.com" in r.getMessage() for r in caplog.records)


def test_several_integrations_naming_an_unclaimed_shop_is_refused_and_logged(db, client, shopify_app, caplog):
    squatter()
    squatter()
    caplog.set_level(logging.WARNING, logger="webhooks.inbound.views")
    assert data_request(client).status_code == 404
    assert not IncomingWebhook.objects.exists()
    assert any("shopify webhook refused" in r.getMessage() for r in caplog.records)


def test_staff_claim_and_second_claim_refused(db):
    admin = get_user_model().objects.create_superuser("root", "root@example.com", "x")
    held = IntegrationFactory(provider="shopify", config={"shop_domain": SHOP})
    other = squatter()

    accounts_claim(integration=held, proof=ClaimProof.STAFF, user=admin)
    with pytest.raises(AccountAlreadyClaimed) as refused:
        accounts_claim(integration=other, proof=ClaimProof.STAFF, user=admin)

    assert refused.value.http_status == 409
    assert held.organization.slug not in refused.value.message and held.organization.name not in refused.value.message
    claim = AccountClaim.objects.get()
    assert (claim.integration, claim.proof, claim.claimed_by) == (held, ClaimProof.STAFF, admin)


def test_editing_the_owner_to_another_shop_releases_the_claim(db):
    held = IntegrationFactory(provider="shopify", config={"shop_domain": SHOP})
    accounts_claim(integration=held, proof=ClaimProof.STAFF)
    integration_update(integration=held, data={"config": {"shop_domain": "elsewhere.myshopify.com"}})
    assert not AccountClaim.objects.exists()


def test_the_sandbox_and_an_oauth_connect_of_an_unsigned_seller_id_claim_nothing(db):
    sandbox = IntegrationFactory(provider="sandbox", config={"shop_domain": SHOP})
    amazon = IntegrationFactory(provider="amazon_sp", config={"seller_id": "A1SELLER"})
    assert accounts_claim(integration=sandbox, proof=ClaimProof.OAUTH) == []
    assert accounts_claim(integration=amazon, proof=ClaimProof.OAUTH) == []
    assert [c.account_id for c in accounts_claim(integration=amazon, proof=ClaimProof.STAFF)] == ["A1SELLER"]


def test_a_deleted_owner_frees_the_shop(db, shopify_app):
    org = OrganizationFactory()
    first = Integration.objects.get(pk=install(org)["integration_id"])
    first.delete()
    assert install(OrganizationFactory())["status"] == "success"
    assert AccountClaim.objects.get().integration.organization != org


def _run_action(client, action, integrations):
    return client.post(reverse("admin:integrations_integration_changelist"),
                       {"action": action, "_selected_action": [str(i.pk) for i in integrations]})


def test_only_a_superuser_claims_from_the_admin_and_a_second_claim_is_an_error_message(db):
    held = IntegrationFactory(provider="shopify", config={"shop_domain": SHOP})
    org_admin = Client()
    org_admin.force_login(MembershipFactory(organization=held.organization, role="owner").user)
    _run_action(org_admin, "claim_accounts", [held])
    assert not AccountClaim.objects.exists()  # the action is not offered to an organization's own staff

    root = Client()
    root.force_login(get_user_model().objects.create_superuser("root", "root@example.com", "x"))
    _run_action(root, "claim_accounts", [held])
    assert AccountClaim.objects.get().integration == held

    response = _run_action(root, "claim_accounts", [squatter()])
    assert [m.level_tag for m in get_messages(response.wsgi_request)][-1] == "error"
    assert AccountClaim.objects.get().integration == held
    _run_action(root, "release_accounts", [held])
    assert not AccountClaim.objects.exists()


def test_the_data_migration_claims_only_a_lone_active_oauth_connected_shop(db):
    from importlib import import_module

    from django.apps import apps

    claim_connected = import_module("integrations.migrations.0005_claim_connected_accounts").claim_connected
    connected = IntegrationFactory(provider="shopify", token_type="Bearer", config={"shop_domain": SHOP})
    IntegrationFactory(provider="shopify", token_type="Bearer", config={"shop_domain": "twice.myshopify.com"})
    IntegrationFactory(provider="shopify", token_type="Bearer", config={"shop_domain": "twice.myshopify.com"})
    IntegrationFactory(provider="shopify", token_type="", config={"shop_domain": "pasted.myshopify.com"})
    IntegrationFactory(provider="amazon_sp", token_type="Bearer", config={"seller_id": "A1SELLER"})

    claim_connected(apps, None)

    assert list(AccountClaim.objects.values_list("kind", "account_id", "integration_id", "proof")) == [
        ("shopify.shop", SHOP, connected.pk, "migration")]


def test_the_integration_page_shows_its_route_key_and_claimed_shop(db):
    held = IntegrationFactory(provider="shopify", config={"shop_domain": SHOP})
    accounts_claim(integration=held, proof=ClaimProof.STAFF)
    root = Client()
    root.force_login(get_user_model().objects.create_superuser("root", "root@example.com", "x"))
    page = root.get(reverse("admin:integrations_integration_change", args=[held.pk])).content.decode()
    assert held.route_key in page and f"shopify.shop {SHOP} (staff)" in page
