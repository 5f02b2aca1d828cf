"""GET /api/integration-logs/ and /{id}/: read-only, filtered, newest first."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from integrations.models import IntegrationLog
from tests.factories import IntegrationFactory, IntegrationLogFactory

URL = "/api/integration-logs/"


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


@pytest.fixture
def logs(org):
    shop = IntegrationFactory(organization=org, code="shop")
    crm = IntegrationFactory(organization=org, code="crm")
    return {
        "old": IntegrationLogFactory(integration=shop, action="list_orders", status_code=200,
                                     created_at=datetime(2024, 1, 1, 12, tzinfo=UTC)),
        "failed": IntegrationLogFactory(integration=shop, action="push_inventory", status_code=500,
                                        error_message="HTTP 500", created_at=datetime(2024, 2, 1, tzinfo=UTC)),
        "inbound": IntegrationLogFactory(integration=crm, action="webhook", direction="inbound", method="POST",
                                         status_code=200, created_at=datetime(2024, 3, 1, tzinfo=UTC)),
    }


@pytest.mark.django_db
class TestIntegrationLogs:
    def test_list_is_newest_first_with_the_row_fields(self, viewer_api, logs):
        response = viewer_api.get(URL)

        assert ids(response) == [logs["inbound"].pk, logs["failed"].pk, logs["old"].pk]
        row = response.json()["results"][1]
        assert row["action"] == "push_inventory"
        assert row["status_code"] == 500
        assert row["error_message"] == "HTTP 500"
        assert row["integration"] == logs["failed"].integration_id
        assert "organization" not in row

    def test_detail(self, viewer_api, logs):
        response = viewer_api.get(f"{URL}{logs['failed'].pk}/")

        assert response.status_code == 200
        assert response.json()["id"] == logs["failed"].pk

    @pytest.mark.parametrize(
        ("query", "expected"),
        [
            ("action=push_inventory", ["failed"]),
            ("direction=inbound", ["inbound"]),
            ("status_code=200", ["inbound", "old"]),
            ("created_after=2024-01-15T00:00:00Z", ["inbound", "failed"]),
            ("created_before=2024-02-01T00:00:00Z", ["old"]),  # strictly before
            ("created_after=2024-01-01&created_before=2024-03-01", ["failed", "old"]),
        ],
    )
    def test_filters(self, viewer_api, logs, query, expected):
        assert ids(viewer_api.get(f"{URL}?{query}")) == [logs[name].pk for name in expected]

    def test_filter_by_integration(self, viewer_api, logs):
        shop = logs["old"].integration

        assert ids(viewer_api.get(f"{URL}?integration={shop.pk}")) == [logs["failed"].pk, logs["old"].pk]

    @pytest.mark.parametrize("query", ["created_after=yesterday", "direction=sideways", "status_code=abc"])
    def test_an_invalid_filter_is_a_validation_error(self, viewer_api, logs, query):
        response = viewer_api.get(f"{URL}?{query}")

        assert response.status_code == 400
        assert response.json()["error"]["code"] == "VALIDATION_ERROR"

    def test_pages_cover_every_row_once(self, viewer_api, org):
        integration = IntegrationFactory(organization=org)
        same_moment = datetime(2024, 5, 1, tzinfo=UTC)
        made = {IntegrationLogFactory(integration=integration, created_at=same_moment).pk for _ in range(5)}

        seen, url = [], f"{URL}?page_size=2"
        while url:
            response = viewer_api.get(url)
            seen += ids(response)
            url = response.json()["next"]

        assert sorted(seen) == sorted(made)

    @pytest.mark.parametrize("method", ["post", "patch", "put", "delete"])
    def test_logs_are_read_only_even_for_an_owner(self, api_client_for, org, logs, method):
        client = api_client_for(org, "owner")
        path = URL if method == "post" else f"{URL}{logs['old'].pk}/"

        response = getattr(client, method)(path, {"action": "forged"}, format="json")

        assert response.status_code == 405
        assert response.json()["error"]["code"] == "METHOD_NOT_ALLOWED"
        assert not IntegrationLog.objects.filter(action="forged").exists()
        assert IntegrationLog.objects.count() == 3
