"""`Authorization: Api-Key <key>`: who a key is, and the 401s for everything else.

The requests go to a test-only view (this module is its URLconf) that uses the
project's default authentication and permission classes, so these tests hold
whatever the API's own views look like.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import path
from rest_framework.response import Response
from rest_framework.test import APIClient
from rest_framework.views import APIView

from accounts.models import ApiKey
from accounts.services import api_key_authenticate, api_key_revoke
from accounts.tenancy import request_tenant
from tests.factories import ApiKeyFactory


class WhoAmI(APIView):
    def get(self, request):
        tenant = request_tenant(request)
        return Response({"organization": tenant.organization.slug, "role": tenant.role})


urlpatterns = [path("whoami/", WhoAmI.as_view())]
WHOAMI = "/whoami/"

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]


def client_with(header: str | None) -> APIClient:
    client = APIClient()
    if header is not None:
        client.credentials(HTTP_AUTHORIZATION=header)
    return client


def assert_unauthorized(response, code: str) -> None:
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Api-Key"
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    assert "details" in body["error"]


def test_a_key_acts_for_its_organization_with_its_role(org):
    _, raw = ApiKeyFactory.create_with_raw(organization=org, role="viewer")
    response = client_with(f"Api-Key {raw}").get(WHOAMI)
    assert response.status_code == 200
    assert response.json() == {"organization": org.slug, "role": "viewer"}


def test_the_scheme_is_case_insensitive(org):
    _, raw = ApiKeyFactory.create_with_raw(organization=org)
    assert client_with(f"api-key {raw}").get(WHOAMI).status_code == 200


def test_revoked_key_gets_401_with_the_envelope(org):
    key, raw = ApiKeyFactory.create_with_raw(organization=org)
    api_key_revoke(api_key=key)
    response = client_with(f"Api-Key {raw}").get(WHOAMI)
    assert_unauthorized(response, "AUTHENTICATION_FAILED")
    assert raw not in response.content.decode()


def test_key_of_an_inactive_organization_gets_401(org):
    _, raw = ApiKeyFactory.create_with_raw(organization=org)
    org.is_active = False
    org.save(update_fields=["is_active"])
    assert_unauthorized(client_with(f"Api-Key {raw}").get(WHOAMI), "AUTHENTICATION_FAILED")


def test_unknown_key_gets_401(org):
    _, raw = ApiKeyFactory.create_with_raw(organization=org)
    assert_unauthorized(client_with(f"Api-Key {raw}x").get(WHOAMI), "AUTHENTICATION_FAILED")


@pytest.mark.parametrize("header", ["Api-Key", "Api-Key    ", "Api-Key not-a-key", "Api-Key sy_short"])
def test_malformed_api_key_header_gets_401(org, header):
    assert_unauthorized(client_with(header).get(WHOAMI), "AUTHENTICATION_FAILED")


@pytest.mark.parametrize("header", [None, "Token abc", "ApiKey sy_abc"])
def test_missing_or_foreign_scheme_gets_401_not_authenticated(org, header):
    assert_unauthorized(client_with(header).get(WHOAMI), "NOT_AUTHENTICATED")


@pytest.mark.parametrize("scheme", ["Bearer", "bearer"])
def test_a_bearer_key_is_told_the_api_key_scheme(org, scheme):
    _, raw = ApiKeyFactory.create_with_raw(organization=org)
    answer = client_with(f"{scheme} {raw}").get(WHOAMI)
    assert_unauthorized(answer, "AUTHENTICATION_FAILED")
    assert "Authorization: Api-Key <key>" in answer.json()["error"]["message"]


def test_only_the_hash_is_stored(org):
    key, raw = ApiKeyFactory.create_with_raw(organization=org)
    stored = ApiKey.objects.filter(pk=key.pk).values().get()
    assert raw not in {str(v) for v in stored.values()}
    assert raw.startswith(f"sy_{key.prefix}_")


def test_last_used_at_is_touched_at_most_once_a_minute(org):
    key, raw = ApiKeyFactory.create_with_raw(organization=org)
    client = client_with(f"Api-Key {raw}")
    start = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)

    def last_used():
        return ApiKey.objects.get(pk=key.pk).last_used_at

    assert last_used() is None
    with time_machine.travel(start, tick=False) as clock:
        assert client.get(WHOAMI).status_code == 200
        assert last_used() == start

        clock.move_to(start + timedelta(seconds=59))
        assert client.get(WHOAMI).status_code == 200
        assert last_used() == start

        clock.move_to(start + timedelta(seconds=61))
        assert client.get(WHOAMI).status_code == 200
        assert last_used() == start + timedelta(seconds=61)


def test_authenticate_service_ignores_values_without_the_prefix(org):
    _, raw = ApiKeyFactory.create_with_raw(organization=org)
    assert api_key_authenticate(raw.removeprefix("sy_")) is None
    assert api_key_authenticate(raw).organization == org
