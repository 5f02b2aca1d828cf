"""POST /api/integrations/{id}/test/: runs the connector's connection test against fake connectors, no network."""

from __future__ import annotations

import pytest

from config.errors import ApplicationError
from connectors import registry
from connectors.base import ConnectionResult, Connector
from tests.factories import IntegrationFactory

API_KEY = "sk_live_51HsecretVALUE9f8e7d6c"
CLIENT_SECRET = "cs_topsecret_4b3a2c1d0e"


class FakeConnector(Connector):
    """Answers whatever the test put in `outcome`: a ConnectionResult, or an exception to raise."""

    key = "fake-test"
    display_name = "Fake (tests)"
    integration_type = "crm"
    outcome: ConnectionResult | BaseException = ConnectionResult(ok=True, latency_ms=7, detail="HTTP 200")
    calls: list[int] = []

    def test_connection(self) -> ConnectionResult:
        type(self).calls.append(self.integration.pk)
        if isinstance(self.outcome, BaseException):
            raise self.outcome
        return self.outcome


class NoTestConnector(Connector):
    key = "fake-no-test"
    display_name = "Fake without a test"
    integration_type = "crm"


@pytest.fixture
def fake():
    FakeConnector.calls = []
    registry.register(FakeConnector)
    registry.register(NoTestConnector)
    yield FakeConnector
    registry.unregister(FakeConnector.key)
    registry.unregister(NoTestConnector.key)
    FakeConnector.outcome = ConnectionResult(ok=True, latency_ms=7, detail="HTTP 200")


@pytest.fixture
def integration(org, fake):
    return IntegrationFactory(
        organization=org, provider=fake.key, type="crm", status="error", last_error="old failure",
        api_key=API_KEY, credentials={"client_secret": CLIENT_SECRET},
    )


def url(integration) -> str:
    return f"/api/integrations/{integration.pk}/test/"


@pytest.mark.django_db
class TestConnectionTest:
    def test_success_answers_the_result_and_clears_the_error(self, operator_api, integration, fake):
        response = operator_api.post(url(integration))

        assert response.status_code == 200
        assert response.json() == {"ok": True, "latency_ms": 7, "detail": "HTTP 200", "activated": False,
                                   "status": "active"}
        assert fake.calls == [integration.pk]
        integration.refresh_from_db()
        assert integration.last_error == ""
        assert integration.status == "active"  # an integration in error recovers on a passing test

    def test_a_failed_result_is_recorded_without_changing_status(self, operator_api, integration, fake):
        fake.outcome = ConnectionResult(ok=False, latency_ms=30, detail="HTTP 401")

        response = operator_api.post(url(integration))

        assert response.json() == {"ok": False, "latency_ms": 30, "detail": "HTTP 401", "activated": False,
                                   "status": "error"}
        integration.refresh_from_db()
        assert integration.last_error == "HTTP 401"
        assert integration.status == "error"
        assert integration.consecutive_failures == 0

    def test_a_provider_error_becomes_ok_false_without_the_secret(self, operator_api, integration, fake):
        fake.outcome = ApplicationError(
            f"Provider said: key {API_KEY} is revoked (client {CLIENT_SECRET})", code="PROVIDER_ERROR"
        )

        response = operator_api.post(url(integration))

        assert response.status_code == 200
        body = response.json()
        assert body["ok"] is False
        assert body["detail"].startswith("PROVIDER_ERROR: Provider said: key ")
        assert "is revoked" in body["detail"]
        for secret in (API_KEY, CLIENT_SECRET, API_KEY[8:20]):
            assert secret not in response.content.decode()
        integration.refresh_from_db()
        assert integration.last_error == body["detail"]
        assert API_KEY not in integration.last_error

    def test_url_encoded_secrets_are_scrubbed_too(self, operator_api, org, fake):
        integration = IntegrationFactory(organization=org, provider=fake.key, api_secret="p@ss/word+42 secret")
        fake.outcome = ApplicationError(
            "GET /auth?secret=p%40ss%2Fword%2B42%20secret failed; sent p%40ss%2Fword%2B42+secret", code="PROVIDER_ERROR"
        )

        response = operator_api.post(url(integration))

        assert response.json()["detail"] == "PROVIDER_ERROR: GET /auth?secret=•••• failed; sent ••••"

    def test_an_unexpected_exception_names_only_its_class(self, operator_api, integration, fake):
        fake.outcome = ConnectionError(f"could not reach https://user:{API_KEY}@shop.example")

        response = operator_api.post(url(integration))

        assert response.status_code == 200
        assert response.json() == {"ok": False, "latency_ms": 0, "detail": "Connection failed (ConnectionError).",
                                   "activated": False, "status": "error"}

    def test_a_secret_in_a_successful_detail_is_scrubbed(self, operator_api, integration, fake):
        fake.outcome = ConnectionResult(ok=True, latency_ms=1, detail=f"authenticated as {API_KEY}")

        response = operator_api.post(url(integration))

        assert response.json()["detail"] == "authenticated as ••••"

    def test_a_connector_without_a_test_says_so(self, operator_api, org, fake):
        integration = IntegrationFactory(organization=org, provider="fake-no-test")

        response = operator_api.post(url(integration))

        assert response.json() == {"ok": False, "latency_ms": 0, "detail": "This provider has no connection test.",
                                   "activated": False, "status": "active"}

    def test_a_provider_no_longer_registered_is_a_failed_test(self, operator_api, org, fake):
        integration = IntegrationFactory(organization=org, provider="retired-provider")

        response = operator_api.post(url(integration))

        assert response.status_code == 200
        assert response.json()["ok"] is False
        assert response.json()["detail"].startswith("INVALID_PROVIDER:")

    def test_a_body_with_fields_is_refused_and_nothing_runs(self, operator_api, integration, fake):
        response = operator_api.post(url(integration), {"dry_run": True}, format="json")

        assert response.status_code == 400
        assert response.json()["error"]["details"] == {"dry_run": ["Unknown field."]}
        assert fake.calls == []

    def test_admin_and_owner_may_test_too(self, api_client_for, org, integration, fake):
        for role in ("admin", "owner"):
            assert api_client_for(org, role).post(url(integration)).status_code == 200
        assert fake.calls == [integration.pk, integration.pk]
