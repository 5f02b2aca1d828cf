"""Every bad input under /api/ is a 4xx in the error envelope: never a 500, never an HTML page."""

from __future__ import annotations

import pytest
from django.http import HttpResponse
from django.urls import path
from rest_framework.test import APIClient

from integrations.models import Integration, OAuthState
from tests.factories import IntegrationFactory
from webhooks.models import WebhookEndpoint

pytestmark = pytest.mark.django_db


def _envelope(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    error = response.json()["error"]
    assert set(error) == {"code", "message", "details"}
    if code:
        assert error["code"] == code
    return error


# ---------------------------------------------------------------- datetime filters

DATETIME_FILTERS = [
    ("/api/orders/", "placed_after"),
    ("/api/orders/", "placed_before"),
    ("/api/sync-jobs/", "created_after"),
    ("/api/webhook-deliveries/", "created_after"),
    ("/api/integration-logs/", "created_before"),
    ("/api/webhooks/", "received_after"),
]


@pytest.mark.parametrize(("url", "name"), DATETIME_FILTERS)
@pytest.mark.parametrize("offset", ["+18:00", "-23:59", "+16:00"])
def test_a_utc_offset_postgresql_cannot_store_is_read_as_the_same_instant(admin_api, url, name, offset):
    response = admin_api.get(url, {name: f"2024-01-01T00:00:00{offset}"})
    assert response.status_code == 200, response.content[:300]


@pytest.mark.parametrize(("url", "name"), DATETIME_FILTERS)
@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-23:59", "yesterday",
                                   "2024-13-01T00:00:00Z"])
def test_a_datetime_that_is_no_instant_is_a_400(admin_api, url, name, value):
    error = _envelope(admin_api.get(url, {name: value}), 400, "VALIDATION_ERROR")
    assert name in error["details"]


def test_the_instant_is_what_counts(admin_api, org):
    from commerce.models import Order

    integration = IntegrationFactory(organization=org)
    Order.objects.create(organization=org, integration=integration, external_id="1", currency="EUR",
                         placed_at="2024-01-01T12:00:00Z")
    after = admin_api.get("/api/orders/", {"placed_after": "2024-01-02T05:00:00+18:00"}).json()["results"]
    before = admin_api.get("/api/orders/", {"placed_after": "2024-01-02T07:00:00+18:00"}).json()["results"]
    assert len(after) == 1 and before == []  # 05:00+18:00 is 11:00Z, 07:00+18:00 is 13:00Z


# ---------------------------------------------------------------- NUL bytes


def test_a_nul_in_the_oauth_callback_state_is_a_400(client):
    response = client.get("/api/integrations/oauth/callback/sandbox/", {"state": "abc\x00def", "code": "x"})
    _envelope(response, 400, "VALIDATION_ERROR")
    assert not OAuthState.objects.exists()


@pytest.mark.parametrize("url", ["/api/integrations/", "/api/orders/", "/api/webhooks/"])
def test_a_nul_in_any_query_parameter_is_a_400(admin_api, url):
    _envelope(admin_api.get(url, {"search": "a\x00b"}), 400, "VALIDATION_ERROR")


@pytest.mark.parametrize("body", [
    {"name": "Shop\x00", "code": "shop", "provider": "sandbox"},
    {"name": "Shop", "code": "shop", "provider": "sandbox", "config": {"note": "a\x00b"}},
    {"name": "Shop", "code": "shop", "provider": "sandbox", "metadata": {"k\x00": 1}},
    {"name": "Shop", "code": "shop", "provider": "sandbox", "credentials": {"token": ["x\x00"]}},
])
def test_a_nul_inside_a_json_string_is_a_400_and_changes_nothing(admin_api, body):
    error = _envelope(admin_api.post("/api/integrations/", body, format="json"), 400, "VALIDATION_ERROR")
    assert "body" in error["details"]
    assert not Integration.objects.exists()


def test_a_nul_in_a_webhook_endpoint_is_a_400(admin_api):
    response = admin_api.post("/api/webhook-endpoints/", {"url": "https://hooks.example.com/", "events": ["*"],
                                                          "description": "\x00"}, format="json")
    _envelope(response, 400, "VALIDATION_ERROR")
    assert not WebhookEndpoint.objects.exists()


# ---------------------------------------------------------------- 404s and pagination


@pytest.mark.parametrize("url", ["/api/webhooks/abc/", "/api/nothing-here/", "/api/integrations/1/nope/",
                                 "/api/orders/%00/"])
def test_an_unknown_api_url_is_a_json_404(admin_api, url):
    _envelope(admin_api.get(url), 404, "NOT_FOUND")


@pytest.mark.parametrize("url", ["/api/nothing-here/", "/api/integrations/1/nope/"])
def test_an_unknown_api_url_is_a_json_404_with_debug_on_too(admin_api, settings, url):
    settings.DEBUG = True  # make run's setting: Django's handler404 is not used then
    _envelope(admin_api.get(url), 404, "NOT_FOUND")
    _envelope(admin_api.post(url, {}, format="json"), 404, "NOT_FOUND")  # no CSRF page in the way


def test_an_api_url_without_its_trailing_slash(admin_api):
    moved = admin_api.get("/api/integrations?page_size=5")
    assert moved.status_code == 301 and moved["Location"] == "/api/integrations/?page_size=5"
    error = _envelope(admin_api.post("/api/integrations", {}, format="json"), 404, "NOT_FOUND")
    assert error["details"] == {"url": ["/api/integrations/"]}


def test_outside_the_api_a_404_stays_html(client):
    response = client.get("/not-a-page/")
    assert response.status_code == 404 and not response["Content-Type"].startswith("application/json")


@pytest.mark.parametrize("value", ["abc", "0", "-1", "1.5", "501", ""])
def test_an_invalid_page_size_is_a_400(admin_api, value):
    error = _envelope(admin_api.get("/api/integrations/", {"page_size": value}), 400, "VALIDATION_ERROR")
    assert "page_size" in error["details"]


def test_a_valid_page_size_pages(admin_api, org):
    IntegrationFactory.create_batch(3, organization=org)
    body = admin_api.get("/api/integrations/", {"page_size": "2"}).json()
    assert len(body["results"]) == 2 and body["next"]


def test_an_invalid_cursor_is_a_400(admin_api):
    _envelope(admin_api.get("/api/integrations/", {"cursor": "not-a-cursor"}), 400, "VALIDATION_ERROR")


# ---------------------------------------------------------------- handler500


def _boom(request):
    raise RuntimeError("a bug")


def _fine(request):
    return HttpResponse("ok")


urlpatterns = [path("api/boom/", _boom), path("boom/", _boom), path("fine/", _fine)]
handler500 = "config.errors.server_error"
handler404 = "config.errors.not_found"


@pytest.mark.urls(__name__)
def test_an_unexpected_error_under_api_is_a_json_500_envelope():
    client = APIClient(raise_request_exception=False)
    error = _envelope(client.get("/api/boom/"), 500, "INTERNAL_ERROR")
    assert "a bug" not in error["message"]  # nothing of the bug leaks


@pytest.mark.urls(__name__)
def test_an_unexpected_error_elsewhere_is_an_html_500():
    client = APIClient(raise_request_exception=False)
    response = client.get("/boom/")
    assert response.status_code == 500 and response["Content-Type"].startswith("text/html")


def test_the_project_urlconf_uses_these_handlers():
    from config import urls

    assert urls.handler500 == "config.errors.server_error" and urls.handler404 == "config.errors.not_found"


@pytest.mark.parametrize("url,name", [
    ("/api/integration-logs/", "integration"), ("/api/webhook-deliveries/", "endpoint"),
    ("/api/orders/", "integration"), ("/api/sync-jobs/", "integration"), ("/api/campaigns/", "integration"),
])
@pytest.mark.parametrize("value", ["-1.7976931348623157e+308", "9223372036854775808", "1e400"])
def test_an_id_filter_outside_the_databases_range_is_a_400(admin_api, url, name, value):
    # schemathesis found these: SQLite's driver could not bind the number and the API answered 500.
    _envelope(admin_api.get(url, {name: value}), 400, "VALIDATION_ERROR")
