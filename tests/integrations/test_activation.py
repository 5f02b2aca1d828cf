"""How an integration becomes active: a passing test with activation asked for (API ?activate=true and
/activate/, the console's Activate button), and new credentials for one waiting in pending_auth."""

from __future__ import annotations

import pytest

from accounts.models import AuditEvent
from connectors import registry
from connectors.base import ConnectionResult, Connector
from integrations.models import Integration
from tests.factories import IntegrationFactory

pytestmark = pytest.mark.django_db


class TokenCheckingConnector(Connector):
    """Passes its test when the integration holds the access token `good-token`."""

    key = "fake-token-check"
    display_name = "Fake token check"
    integration_type = "crm"

    def test_connection(self) -> ConnectionResult:
        ok = self.integration.access_token == "good-token"
        return ConnectionResult(ok=ok, latency_ms=3, detail="Connected." if ok else "HTTP 401 from the fake")


@pytest.fixture(autouse=True)
def fake():
    registry.register(TokenCheckingConnector)
    yield TokenCheckingConnector
    registry.unregister(TokenCheckingConnector.key)


def make(org, status: str, token: str = "good-token") -> Integration:
    return IntegrationFactory(organization=org, provider=TokenCheckingConnector.key, type="crm", status=status,
                              access_token=token)


def test_a_passing_test_with_activate_true_switches_an_inactive_integration_on(admin_api, org):
    integration = make(org, "inactive")
    body = admin_api.post(f"/api/integrations/{integration.pk}/test/?activate=true").json()
    assert body == {"ok": True, "latency_ms": 3, "detail": "Connected.", "activated": True, "status": "active"}
    integration.refresh_from_db()
    assert integration.status == "active"
    assert AuditEvent.objects.filter(action="integration.activated", target_id=str(integration.pk)).exists()


def test_a_test_without_activate_only_says_it_could_be_activated(operator_api, org):
    integration = make(org, "pending_auth")
    body = operator_api.post(f"/api/integrations/{integration.pk}/test/").json()
    assert (body["ok"], body["activated"], body["status"]) == (True, False, "pending_auth")
    integration.refresh_from_db()
    assert integration.status == "pending_auth"


def test_activating_needs_the_admin_role_and_says_so(operator_api, org):
    integration = make(org, "inactive")
    answer = operator_api.post(f"/api/integrations/{integration.pk}/test/?activate=true")
    assert answer.status_code == 403
    assert answer.json()["error"]["message"] == ("Activating an integration needs the admin role; this key's role "
                                                 "is operator.")
    assert operator_api.post(f"/api/integrations/{integration.pk}/activate/").status_code == 403
    integration.refresh_from_db()
    assert integration.status == "inactive"


def test_activate_tests_first_and_refuses_a_failing_integration(admin_api, org):
    integration = make(org, "inactive", token="bad-token")
    answer = admin_api.post(f"/api/integrations/{integration.pk}/activate/")
    assert answer.status_code == 409
    error = answer.json()["error"]
    assert error["code"] == "CONNECTION_TEST_FAILED"
    assert error["details"] == {"detail": "HTTP 401 from the fake", "status": "inactive"}
    integration.refresh_from_db()
    assert (integration.status, integration.last_error) == ("inactive", "HTTP 401 from the fake")


def test_activate_switches_a_passing_pending_auth_integration_on(admin_api, org):
    integration = make(org, "pending_auth")
    answer = admin_api.post(f"/api/integrations/{integration.pk}/activate/")
    assert answer.status_code == 200 and answer.json()["activated"] is True
    integration.refresh_from_db()
    assert integration.status == "active"


def test_activate_is_a_no_op_on_an_active_integration(admin_api, org):
    integration = make(org, "active")
    body = admin_api.post(f"/api/integrations/{integration.pk}/activate/").json()
    assert (body["activated"], body["status"]) == (False, "active")


def test_a_bad_activate_flag_is_a_validation_error(admin_api, org):
    integration = make(org, "inactive")
    answer = admin_api.post(f"/api/integrations/{integration.pk}/test/?activate=maybe")
    assert answer.status_code == 400
    assert answer.json()["error"]["details"] == {"activate": ["Must be true or false."]}


# These two run with real commits: the test runs once the new token is committed, and the answer shows it.
def test_a_new_valid_token_returns_a_pending_auth_integration_to_active(transactional_db, admin_api, org):
    integration = make(org, "pending_auth", token="expired-token")
    answer = admin_api.patch(f"/api/integrations/{integration.pk}/", {"access_token": "good-token"}, format="json")
    assert answer.status_code == 200 and answer.json()["status"] == "active"
    integration.refresh_from_db()
    assert (integration.status, integration.last_error) == ("active", "")


def test_a_new_token_that_fails_leaves_it_waiting_and_says_why(transactional_db, admin_api, org):
    integration = make(org, "pending_auth", token="expired-token")
    answer = admin_api.patch(f"/api/integrations/{integration.pk}/", {"access_token": "still-bad"}, format="json")
    body = answer.json()
    assert (body["status"], body["last_error"]) == ("pending_auth", "HTTP 401 from the fake")


def test_other_edits_of_a_pending_auth_integration_run_no_test(admin_api, org, django_capture_on_commit_callbacks):
    integration = make(org, "pending_auth")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        body = admin_api.patch(f"/api/integrations/{integration.pk}/", {"name": "Renamed"}, format="json").json()
    assert body["status"] == "pending_auth" and callbacks == []
