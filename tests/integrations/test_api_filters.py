"""Filters, search, ordering and cursor pagination of GET /api/integrations/."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import IntegrationFactory

URL = "/api/integrations/"


def codes(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [row["code"] for row in response.json()["results"]]


def walk(client, url: str) -> list[str]:
    """Every code across all pages, following `next` links."""
    seen: list[str] = []
    while url:
        response = client.get(url)
        seen += codes(response)
        url = response.json()["next"]
    return seen


@pytest.fixture
def mixed(org):
    return [
        IntegrationFactory(organization=org, code="shop-a", name="Alpha shop", provider="sandbox", type="ecommerce",
                           status="active", auto_sync_enabled=True),
        IntegrationFactory(organization=org, code="crm-b", name="Beta CRM", provider="other", type="crm",
                           status="inactive", description="talks to the warehouse"),
        IntegrationFactory(organization=org, code="tax-c", name="Gamma tax", provider="other", type="tax",
                           status="error"),
    ]


@pytest.mark.django_db
class TestFilters:
    @pytest.mark.parametrize(
        ("query", "expected"),
        [
            ("provider=sandbox", {"shop-a"}),
            ("provider=other", {"crm-b", "tax-c"}),
            ("type=crm", {"crm-b"}),
            ("status=error", {"tax-c"}),
            ("auto_sync_enabled=true", {"shop-a"}),
            ("auto_sync_enabled=false", {"crm-b", "tax-c"}),
            ("provider=other&status=inactive", {"crm-b"}),
        ],
    )
    def test_filters(self, viewer_api, mixed, query, expected):
        assert set(codes(viewer_api.get(f"{URL}?{query}"))) == expected

    @pytest.mark.parametrize("query", ["status=broken", "type=spaceship", "auto_sync_enabled=perhaps"])
    def test_an_invalid_filter_value_is_a_validation_error(self, viewer_api, mixed, query):
        response = viewer_api.get(f"{URL}?{query}")

        assert response.status_code == 400
        assert response.json()["error"]["code"] == "VALIDATION_ERROR"
        assert query.split("=")[0] in response.json()["error"]["details"]

    @pytest.mark.parametrize(
        ("term", "expected"),
        [("gamma", {"tax-c"}), ("crm-b", {"crm-b"}), ("warehouse", {"crm-b"}), ("shop", {"shop-a"})],
    )
    def test_search_covers_name_code_and_description(self, viewer_api, mixed, term, expected):
        assert set(codes(viewer_api.get(f"{URL}?search={term}"))) == expected


@pytest.mark.django_db
class TestOrderingAndPagination:
    def test_default_order_is_newest_first(self, viewer_api, mixed):
        assert codes(viewer_api.get(URL)) == ["tax-c", "crm-b", "shop-a"]

    def test_ordering_by_name(self, viewer_api, mixed):
        assert codes(viewer_api.get(f"{URL}?ordering=name")) == ["shop-a", "crm-b", "tax-c"]
        assert codes(viewer_api.get(f"{URL}?ordering=-name")) == ["tax-c", "crm-b", "shop-a"]

    def test_pages_cover_every_row_once(self, viewer_api, org):
        made = [IntegrationFactory(organization=org, code=f"i-{n:02d}").code for n in range(7)]

        seen = walk(viewer_api, f"{URL}?page_size=3")

        assert seen == list(reversed(made))
        first = viewer_api.get(f"{URL}?page_size=3").json()
        assert len(first["results"]) == 3 and first["previous"] is None and "cursor=" in first["next"]

    def test_pages_by_name_keep_the_order(self, viewer_api, org):
        for name in ["delta", "alpha", "echo", "charlie", "bravo"]:
            IntegrationFactory(organization=org, name=name, code=name)

        assert walk(viewer_api, f"{URL}?ordering=name&page_size=2") == ["alpha", "bravo", "charlie", "delta", "echo"]

    def test_ordering_by_last_sync_pages_through_never_synced_rows(self, viewer_api, org):
        now = timezone.now()
        IntegrationFactory(organization=org, code="old", last_sync_at=now - timedelta(days=2))
        IntegrationFactory(organization=org, code="never-1", last_sync_at=None)
        IntegrationFactory(organization=org, code="new", last_sync_at=now - timedelta(minutes=5))
        IntegrationFactory(organization=org, code="never-2", last_sync_at=None)

        newest_first = walk(viewer_api, f"{URL}?ordering=-last_sync_at&page_size=1")
        oldest_first = walk(viewer_api, f"{URL}?ordering=last_sync_at&page_size=3")

        assert newest_first[:2] == ["new", "old"] and set(newest_first[2:]) == {"never-1", "never-2"}
        assert set(oldest_first[:2]) == {"never-1", "never-2"} and oldest_first[2:] == ["old", "new"]

    def test_an_unknown_ordering_field_falls_back_to_the_default(self, viewer_api, mixed):
        assert codes(viewer_api.get(f"{URL}?ordering=api_key")) == ["tax-c", "crm-b", "shop-a"]
