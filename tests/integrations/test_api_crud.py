"""Create, read, update and delete integrations through the API, and the rules a write must pass."""

from __future__ import annotations

import pytest

from integrations.models import Integration
from tests.factories import IntegrationFactory

URL = "/api/integrations/"


def snapshot() -> list[dict]:
    return list(Integration.objects.order_by("pk").values())


def payload(**overrides) -> dict:
    return {"name": "Main shop", "code": "main-shop", "provider": "sandbox", **overrides}


@pytest.mark.django_db
class TestCreate:
    def test_creates_in_the_tenant_organization_with_the_provider_type(self, admin_api, org):
        response = admin_api.post(URL, payload(description="the big one"), format="json")

        assert response.status_code == 201, response.content
        body = response.json()
        integration = Integration.objects.get(pk=body["id"])
        assert integration.organization == org
        assert body["type"] == "ecommerce"  # the sandbox connector's integration_type
        assert body["status"] == "inactive"
        assert body["code"] == "main-shop"
        assert body["description"] == "the big one"
        assert body["has_api_key"] is False
        assert body["credentials_keys"] == []

    def test_an_explicit_type_and_settings_are_kept(self, admin_api):
        response = admin_api.post(
            URL,
            payload(type="inventory", status="active", auto_sync_enabled=True,
                    scope=["read_orders"], config={"page_size": 50}, is_test_mode=True),
            format="json",
        )

        assert response.status_code == 201, response.content
        integration = Integration.objects.get(pk=response.json()["id"])
        assert (integration.type, integration.status) == ("inventory", "active")
        assert integration.auto_sync_enabled
        assert integration.scope == ["read_orders"] and integration.config == {"page_size": 50}
        assert integration.is_test_mode

    def test_missing_required_fields_are_named(self, admin_api):
        response = admin_api.post(URL, {}, format="json")

        assert response.status_code == 400
        error = response.json()["error"]
        assert error["code"] == "VALIDATION_ERROR"
        assert set(error["details"]) == {"name", "provider"}
        assert Integration.objects.count() == 0

    def test_without_a_code_one_is_made_from_the_name_free_in_the_organization(self, admin_api, org, other_org):
        IntegrationFactory(organization=org, code="shop-ro")
        IntegrationFactory(organization=other_org, code="shop-ro-2")  # another organization's codes do not count

        first = admin_api.post(URL, {"name": "Shop RO", "provider": "sandbox"}, format="json")
        second = admin_api.post(URL, {"name": "Shop RO", "provider": "sandbox"}, format="json")
        symbols = admin_api.post(URL, {"name": "!!!", "provider": "sandbox"}, format="json")

        assert (first.status_code, second.status_code, symbols.status_code) == (201, 201, 201)
        assert [first.json()["code"], second.json()["code"], symbols.json()["code"]] == [
            "shop-ro-2", "shop-ro-3", "sandbox"]

    def test_unregistered_provider_is_invalid_provider(self, admin_api):
        response = admin_api.post(URL, payload(provider="no-such-shop"), format="json")

        assert response.status_code == 400
        assert response.json()["error"]["code"] == "INVALID_PROVIDER"
        assert "provider" in response.json()["error"]["details"]
        assert Integration.objects.count() == 0

    def test_a_code_in_use_in_the_organization_is_refused(self, admin_api, org):
        IntegrationFactory(organization=org, code="main-shop")
        before = snapshot()

        response = admin_api.post(URL, payload(), format="json")

        assert response.status_code == 400
        assert response.json()["error"]["code"] == "VALIDATION_ERROR"
        assert response.json()["error"]["details"] == {"code": ["already in use"]}
        assert snapshot() == before

    def test_code_must_be_a_slug(self, admin_api):
        response = admin_api.post(URL, payload(code="not a slug!"), format="json")

        assert response.status_code == 400
        assert "code" in response.json()["error"]["details"]

    def test_organization_is_not_client_settable(self, admin_api, other_org):
        response = admin_api.post(URL, payload(organization=other_org.pk), format="json")

        assert response.status_code == 400
        assert response.json()["error"]["details"] == {"organization": ["Unknown field."]}
        assert Integration.objects.count() == 0

    def test_a_loopback_api_endpoint_is_refused(self, admin_api, settings):
        settings.OUTBOUND_URL_ALLOWLIST = []

        response = admin_api.post(URL, payload(api_endpoint="http://127.0.0.1:8765"), format="json")

        assert response.status_code == 400
        assert response.json()["error"]["code"] == "VALIDATION_ERROR"
        assert "api_endpoint" in response.json()["error"]["details"]
        assert Integration.objects.count() == 0

    def test_an_allowlisted_loopback_api_endpoint_is_accepted(self, admin_api, settings):
        settings.OUTBOUND_URL_ALLOWLIST = ["127.0.0.1"]

        response = admin_api.post(URL, payload(api_endpoint="http://127.0.0.1:8765"), format="json")

        assert response.status_code == 201, response.content
        assert response.json()["api_endpoint"] == "http://127.0.0.1:8765"

    def test_a_public_api_endpoint_is_accepted(self, admin_api, settings):
        settings.OUTBOUND_URL_ALLOWLIST = []

        response = admin_api.post(URL, payload(api_endpoint="https://93.184.216.34/api"), format="json")

        assert response.status_code == 201, response.content


@pytest.mark.django_db
class TestReadUpdateDelete:
    def test_list_and_retrieve(self, viewer_api, org):
        first = IntegrationFactory(organization=org, name="First")
        IntegrationFactory(organization=org, name="Second")

        listing = viewer_api.get(URL)
        detail = viewer_api.get(f"{URL}{first.pk}/")

        assert listing.status_code == 200
        assert {row["name"] for row in listing.json()["results"]} == {"First", "Second"}
        assert set(listing.json()) == {"next", "previous", "results"}
        assert detail.status_code == 200
        assert detail.json()["code"] == first.code

    def test_patch_changes_only_what_is_sent(self, admin_api, org):
        integration = IntegrationFactory(organization=org, name="Old", description="keep me")

        response = admin_api.patch(
            f"{URL}{integration.pk}/", {"name": "New", "auto_sync_enabled": True}, format="json"
        )

        assert response.status_code == 200, response.content
        integration.refresh_from_db()
        assert integration.name == "New"
        assert integration.auto_sync_enabled is True
        assert integration.description == "keep me"
        assert response.json()["name"] == "New"

    def test_patch_to_an_unregistered_provider_changes_nothing(self, admin_api, org):
        integration = IntegrationFactory(organization=org)
        before = snapshot()

        response = admin_api.patch(
            f"{URL}{integration.pk}/", {"name": "Renamed", "provider": "nope"}, format="json"
        )

        assert response.status_code == 400
        assert response.json()["error"]["code"] == "INVALID_PROVIDER"
        assert snapshot() == before

    def test_patch_to_a_code_in_use_changes_nothing(self, admin_api, org):
        IntegrationFactory(organization=org, code="taken")
        integration = IntegrationFactory(organization=org)
        before = snapshot()

        response = admin_api.patch(f"{URL}{integration.pk}/", {"code": "taken", "name": "x"}, format="json")

        assert response.status_code == 400
        assert response.json()["error"]["details"] == {"code": ["already in use"]}
        assert snapshot() == before

    def test_patch_keeping_its_own_code_is_fine(self, admin_api, org):
        integration = IntegrationFactory(organization=org, code="mine")

        response = admin_api.patch(f"{URL}{integration.pk}/", {"code": "mine"}, format="json")

        assert response.status_code == 200

    def test_read_only_fields_cannot_be_patched(self, admin_api, org):
        integration = IntegrationFactory(organization=org)
        before = snapshot()

        response = admin_api.patch(
            f"{URL}{integration.pk}/", {"last_error": "", "has_api_key": True, "name": "x"}, format="json"
        )

        assert response.status_code == 400
        assert set(response.json()["error"]["details"]) == {"last_error", "has_api_key"}
        assert snapshot() == before

    def test_put_replaces_the_fields_it_gives_and_keeps_secrets_left_out(self, admin_api, org):
        integration = IntegrationFactory(organization=org, api_key="key-AAAA1111", description="old",
                                         connected_by="u_1")

        response = admin_api.put(f"{URL}{integration.pk}/", payload(description="new", connected_by="u_2"),
                                 format="json")

        assert response.status_code == 200, response.json()
        row = Integration.objects.get(pk=integration.pk)
        assert (row.name, row.code, row.description, row.connected_by) == ("Main shop", "main-shop", "new", "u_2")
        assert row.api_key == "key-AAAA1111"

    def test_put_needs_what_create_needs(self, admin_api, org):
        integration = IntegrationFactory(organization=org)
        before = snapshot()

        response = admin_api.put(f"{URL}{integration.pk}/", {"name": "x"}, format="json")

        assert response.status_code == 400
        assert set(response.json()["error"]["details"]) == {"provider"}  # as create: a code left out is kept
        assert snapshot() == before

    def test_put_is_for_admins_and_within_the_organization(self, api_client_for, org, other_org):
        integration = IntegrationFactory(organization=org)
        before = snapshot()

        assert api_client_for(org, "operator").put(f"{URL}{integration.pk}/", payload(), format="json"
                                                   ).status_code == 403
        answer = api_client_for(other_org, "admin").put(f"{URL}{integration.pk}/", payload(), format="json")
        assert answer.status_code == 404 and answer.json()["error"]["code"] == "INTEGRATION_NOT_FOUND"
        assert snapshot() == before

    def test_delete(self, admin_api, org):
        integration = IntegrationFactory(organization=org)

        response = admin_api.delete(f"{URL}{integration.pk}/")

        assert response.status_code == 204
        assert not Integration.objects.filter(pk=integration.pk).exists()

    def test_unknown_and_malformed_ids_are_integration_not_found(self, viewer_api):
        for path in (f"{URL}999999/", f"{URL}abc/"):
            response = viewer_api.get(path)
            assert response.status_code == 404, path
            assert response.json()["error"]["code"] == "INTEGRATION_NOT_FOUND"
