"""Tenant isolation (another organization's rows are 404) and role limits (viewer < operator < admin < owner)."""

from __future__ import annotations

import pytest

from integrations.models import Integration
from tests.factories import IntegrationFactory, IntegrationLogFactory

URL = "/api/integrations/"


@pytest.fixture
def foreign(other_org):
    """An integration of another organization, with a log row."""
    integration = IntegrationFactory(organization=other_org, name="Theirs", code="theirs")
    IntegrationLogFactory(integration=integration)
    return integration


@pytest.mark.django_db
class TestTenantIsolation:
    def test_lists_show_only_the_tenants_rows(self, admin_api, org, foreign):
        mine = IntegrationFactory(organization=org)
        IntegrationLogFactory(integration=mine)

        integrations = admin_api.get(URL).json()["results"]
        logs = admin_api.get("/api/integration-logs/").json()["results"]

        assert [row["id"] for row in integrations] == [mine.pk]
        assert [row["integration"] for row in logs] == [mine.pk]

    @pytest.mark.parametrize(
        ("method", "suffix", "body"),
        [("get", "", None), ("patch", "", {"name": "Hijacked"}), ("delete", "", None), ("post", "test/", None)],
    )
    def test_another_organizations_integration_is_integration_not_found(
        self, admin_api, foreign, method, suffix, body
    ):
        response = getattr(admin_api, method)(f"{URL}{foreign.pk}/{suffix}", body, format="json")

        assert response.status_code == 404
        assert response.json()["error"]["code"] == "INTEGRATION_NOT_FOUND"
        foreign.refresh_from_db()  # still there, unchanged
        assert foreign.name == "Theirs"
        assert foreign.last_error == ""

    def test_operator_testing_another_organizations_integration_is_404(self, operator_api, foreign):
        response = operator_api.post(f"{URL}{foreign.pk}/test/")

        assert response.status_code == 404
        assert response.json()["error"]["code"] == "INTEGRATION_NOT_FOUND"

    def test_another_organizations_log_row_is_not_found(self, admin_api, foreign):
        log = foreign.logs.get()

        response = admin_api.get(f"/api/integration-logs/{log.pk}/")

        assert response.status_code == 404
        assert response.json()["error"]["code"] == "NOT_FOUND"

    def test_filtering_logs_by_another_organizations_integration_finds_nothing(self, admin_api, foreign):
        response = admin_api.get(f"/api/integration-logs/?integration={foreign.pk}")

        assert response.status_code == 200
        assert response.json()["results"] == []

    def test_the_owning_organization_does_see_it(self, api_client_for, other_org, foreign):
        response = api_client_for(other_org, "viewer").get(f"{URL}{foreign.pk}/")

        assert response.status_code == 200
        assert response.json()["code"] == "theirs"


@pytest.mark.django_db
class TestRoles:
    def test_viewer_reads_everything(self, viewer_api, org):
        integration = IntegrationFactory(organization=org)
        log = IntegrationLogFactory(integration=integration)

        for path in (URL, f"{URL}{integration.pk}/", "/api/providers/", "/api/integration-logs/",
                     f"/api/integration-logs/{log.pk}/"):
            assert viewer_api.get(path).status_code == 200, path

    @pytest.mark.parametrize(
        ("method", "suffix", "body"),
        [
            ("post", "", {"name": "n", "code": "viewer-made", "provider": "sandbox"}),
            ("patch", "{pk}/", {"name": "Changed"}),
            ("delete", "{pk}/", None),
            ("post", "{pk}/test/", None),
        ],
    )
    def test_viewer_cannot_write(self, viewer_api, org, method, suffix, body):
        integration = IntegrationFactory(organization=org, name="Original")

        response = getattr(viewer_api, method)(URL + suffix.format(pk=integration.pk), body, format="json")

        assert response.status_code == 403
        assert response.json()["error"]["code"] == "PERMISSION_DENIED"
        assert list(Integration.objects.values_list("name", flat=True)) == ["Original"]

    @pytest.mark.parametrize(
        ("method", "suffix", "body"),
        [
            ("post", "", {"name": "n", "code": "operator-made", "provider": "sandbox"}),
            ("patch", "{pk}/", {"name": "Changed"}),
            ("delete", "{pk}/", None),
        ],
    )
    def test_operator_cannot_change_integrations(self, operator_api, org, method, suffix, body):
        integration = IntegrationFactory(organization=org, name="Original")

        response = getattr(operator_api, method)(URL + suffix.format(pk=integration.pk), body, format="json")

        assert response.status_code == 403
        assert response.json()["error"]["code"] == "PERMISSION_DENIED"
        assert list(Integration.objects.values_list("name", flat=True)) == ["Original"]

    @pytest.mark.parametrize("role", ["admin", "owner"])
    def test_admin_and_owner_create_update_delete(self, api_client_for, org, role):
        client = api_client_for(org, role)

        created = client.post(URL, {"name": "n", "code": f"{role}-made", "provider": "sandbox"}, format="json")
        pk = created.json()["id"]
        updated = client.patch(f"{URL}{pk}/", {"name": "Changed"}, format="json")
        deleted = client.delete(f"{URL}{pk}/")

        assert (created.status_code, updated.status_code, deleted.status_code) == (201, 200, 204)

    def test_no_key_is_not_authenticated(self, client, org):
        response = client.get(URL)

        assert response.status_code == 401
        assert response.json()["error"]["code"] == "NOT_AUTHENTICATED"
