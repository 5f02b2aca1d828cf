"""Every API error leaves as `{"error": {"code", "message", "details"}}`, and a refused request changes nothing."""

from __future__ import annotations

import pytest

from integrations.models import Integration
from tests.factories import IntegrationFactory

URL = "/api/integrations/"


def snapshot() -> list[dict]:
    return list(Integration.objects.order_by("pk").values())


def envelope(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["details"], dict)
    return body["error"]


@pytest.fixture
def integration(org):
    return IntegrationFactory(organization=org, name="Original", api_key="unchanged-key-1234")


@pytest.mark.django_db
class TestMalformedBodies:
    @pytest.mark.parametrize("raw", ['{"name": "x",', "not json", '{"name": "x"} trailing'])
    def test_malformed_json_on_create(self, admin_api, raw):
        error = envelope(admin_api.post(URL, raw, content_type="application/json"), 400, "VALIDATION_ERROR")

        assert "body" in error["details"]
        assert Integration.objects.count() == 0

    def test_malformed_json_on_patch_changes_nothing(self, admin_api, integration):
        before = snapshot()

        response = admin_api.patch(f"{URL}{integration.pk}/", '{"name": ', content_type="application/json")

        envelope(response, 400, "VALIDATION_ERROR")
        assert snapshot() == before

    @pytest.mark.parametrize("raw", ["[1, 2]", '"a string"', "42"])
    def test_a_body_that_is_not_an_object(self, admin_api, raw):
        envelope(admin_api.post(URL, raw, content_type="application/json"), 400, "VALIDATION_ERROR")
        assert Integration.objects.count() == 0

    def test_a_non_json_content_type_is_refused(self, admin_api):
        response = admin_api.post(URL, "name=x", content_type="application/x-www-form-urlencoded")

        envelope(response, 415, "UNSUPPORTED_MEDIA_TYPE")


@pytest.mark.django_db
class TestUnknownFieldsAndWrongTypes:
    def test_unknown_fields_are_named(self, admin_api):
        response = admin_api.post(
            URL, {"name": "n", "code": "c", "provider": "sandbox", "api_kye": "x", "colour": "red"}, format="json"
        )

        error = envelope(response, 400, "VALIDATION_ERROR")
        assert error["details"] == {"api_kye": ["Unknown field."], "colour": ["Unknown field."]}
        assert Integration.objects.count() == 0

    def test_unknown_fields_on_patch_change_nothing(self, admin_api, integration):
        before = snapshot()

        response = admin_api.patch(f"{URL}{integration.pk}/", {"name": "New", "nmae": "typo"}, format="json")

        assert envelope(response, 400, "VALIDATION_ERROR")["details"] == {"nmae": ["Unknown field."]}
        assert snapshot() == before

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("name", 123),
            ("name", ""),
            ("name", None),
            ("auto_sync_enabled", "yes"),
            ("auto_sync_enabled", 1),
            ("is_test_mode", None),
            ("status", "exploded"),
            ("type", "spaceship"),
            ("config", ["a", "list"]),
            ("metadata", "text"),
            ("scope", "read write"),
            ("expires_at", "next tuesday"),
            ("api_endpoint", "not a url"),
            ("api_endpoint", "ftp://93.184.216.34/"),
            ("api_key", {"nested": "object"}),
        ],
    )
    def test_wrong_types_are_named_and_change_nothing(self, admin_api, integration, field, value):
        before = snapshot()

        response = admin_api.patch(f"{URL}{integration.pk}/", {field: value}, format="json")

        error = envelope(response, 400, "VALIDATION_ERROR")
        assert field in error["details"]
        assert snapshot() == before

    def test_every_bad_field_is_reported_at_once(self, admin_api):
        response = admin_api.post(
            URL, {"name": 5, "code": "ok-code", "provider": "sandbox", "is_test_mode": "x"}, format="json"
        )

        assert set(envelope(response, 400, "VALIDATION_ERROR")["details"]) == {"name", "is_test_mode"}


@pytest.mark.django_db
class TestDomainErrors:
    def test_unknown_provider(self, admin_api):
        response = admin_api.post(URL, {"name": "n", "code": "c", "provider": "nope"}, format="json")

        error = envelope(response, 400, "INVALID_PROVIDER")
        assert error["details"] == {"provider": ["'nope' is not registered"]}

    def test_integration_not_found(self, viewer_api):
        envelope(viewer_api.get(f"{URL}424242/"), 404, "INTEGRATION_NOT_FOUND")

    def test_log_not_found(self, viewer_api):
        envelope(viewer_api.get("/api/integration-logs/424242/"), 404, "NOT_FOUND")

    def test_viewer_write_is_permission_denied(self, viewer_api, integration):
        error = envelope(viewer_api.patch(f"{URL}{integration.pk}/", {"name": "x"}, format="json"), 403,
                         "PERMISSION_DENIED")
        assert error["message"] == "This needs the admin role or above; this API key has viewer."
        assert error["details"] == {"required_role": "admin", "role": "viewer"}

    def test_a_denied_operator_action_names_the_operator_role(self, viewer_api, integration):
        error = envelope(viewer_api.post(f"{URL}{integration.pk}/test/"), 403, "PERMISSION_DENIED")
        assert error["details"] == {"required_role": "operator", "role": "viewer"}

    def test_no_key_is_not_authenticated(self, client):
        response = client.get(URL)

        envelope(response, 401, "NOT_AUTHENTICATED")
        assert response.headers["WWW-Authenticate"] == "Api-Key"

    def test_a_wrong_key_is_authentication_failed(self, client, db):
        response = client.get(URL, HTTP_AUTHORIZATION="Api-Key sy_deadbeef_not-a-real-key")

        envelope(response, 401, "AUTHENTICATION_FAILED")

    def test_method_not_allowed(self, admin_api, integration):
        envelope(admin_api.put(URL, {}, format="json"), 405, "METHOD_NOT_ALLOWED")  # PUT is per integration
