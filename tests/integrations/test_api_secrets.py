"""Secrets are write-only: accepted on create and PATCH, shown only as presence and a masked tail, stored encrypted."""

from __future__ import annotations

import json

import pytest
from django.db import connection

from integrations.models import Integration
from tests.factories import IntegrationFactory

URL = "/api/integrations/"

SECRETS = {
    "api_key": "ak-live-7f3c9e1d2b4a6850-KEYSECRET",
    "api_secret": "as-9d8c7b6a5f4e3d2c-APISECRET",
    "webhook_secret": "whsec_1a2b3c4d5e6f7a8b-HOOKSECRET",
    "access_token": "shpat_0f1e2d3c4b5a6978-ACCESSTOKEN",
    "refresh_token": "rt_8a7b6c5d4e3f2a1b-REFRESHTOKEN",
}
CREDENTIAL_VALUES = {"client_secret": "cs-5e4d3c2b1a0f9e8d-CREDSECRET", "pin": "pin-90210042-CREDPIN"}
ALL_SECRET_STRINGS = [*SECRETS.values(), *CREDENTIAL_VALUES.values()]
# Distinctive middles that a masked tail (the last four characters) can never contain.
SECRET_CORES = [value.split("-")[-2] for value in ALL_SECRET_STRINGS]


def assert_no_secret(response) -> None:
    raw = response.content.decode()
    for value in ALL_SECRET_STRINGS + SECRET_CORES:
        assert value not in raw, f"secret {value[:6]}… leaked in {response.request['PATH_INFO']}"


@pytest.fixture
def created(admin_api):
    response = admin_api.post(
        URL,
        {"name": "Shop", "code": "secret-shop", "provider": "sandbox", **SECRETS, "credentials": CREDENTIAL_VALUES},
        format="json",
    )
    assert response.status_code == 201, response.content
    return response


@pytest.mark.django_db
class TestSecretsNeverLeave:
    def test_create_stores_every_secret_and_answers_without_them(self, created):
        assert_no_secret(created)
        integration = Integration.objects.get(pk=created.json()["id"])
        for name, value in SECRETS.items():
            assert getattr(integration, name) == value
        assert integration.credentials == CREDENTIAL_VALUES

    def test_responses_show_presence_masks_and_credential_key_names(self, created):
        body = created.json()
        for name, value in SECRETS.items():
            assert name not in body
            assert body[f"has_{name}"] is True
            assert body[f"{name}_masked"] == f"••••{value[-4:]}"
        assert "credentials" not in body
        assert body["has_credentials"] is True
        assert body["credentials_keys"] == ["client_secret", "pin"]

    def test_list_detail_and_patch_answers_carry_no_secret(self, created, admin_api, viewer_api):
        pk = created.json()["id"]
        responses = [
            viewer_api.get(URL),
            viewer_api.get(f"{URL}{pk}/"),
            viewer_api.get(f"{URL}?search=secret-shop"),
            admin_api.patch(f"{URL}{pk}/", {"name": "Renamed"}, format="json"),
            admin_api.patch(f"{URL}{pk}/", {"api_key": SECRETS["api_key"] + "-v2"}, format="json"),
        ]
        for response in responses:
            assert response.status_code == 200, response.content
            assert_no_secret(response)

    def test_a_validation_error_does_not_echo_a_secret(self, admin_api):
        response = admin_api.post(
            URL, {"name": "Shop", "code": "bad code", "provider": "sandbox", **SECRETS}, format="json"
        )

        assert response.status_code == 400
        assert_no_secret(response)

    def test_raw_sql_finds_no_plaintext(self, created):
        columns = [*SECRETS, "credentials"]
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {', '.join(columns)} FROM {Integration._meta.db_table} WHERE id = %s",
                [created.json()["id"]],
            )
            row = cursor.fetchone()
        stored = json.dumps(row)
        for value in ALL_SECRET_STRINGS + SECRET_CORES:
            assert value not in stored
        assert all(str(cell).startswith("enc1:") for cell in row)


@pytest.mark.django_db
class TestChangingSecrets:
    def test_patch_replaces_one_secret_and_keeps_the_rest(self, admin_api, org):
        integration = IntegrationFactory(organization=org, api_key="old-key-1234567890", api_secret="keep-secret-000")

        response = admin_api.patch(f"{URL}{integration.pk}/", {"api_key": "new-key-abcdefghij"}, format="json")

        assert response.status_code == 200
        integration.refresh_from_db()
        assert integration.api_key == "new-key-abcdefghij"
        assert integration.api_secret == "keep-secret-000"
        assert response.json()["api_key_masked"] == "••••ghij"

    @pytest.mark.parametrize("empty", ["", None])
    def test_empty_or_null_clears_a_secret(self, admin_api, org, empty):
        integration = IntegrationFactory(
            organization=org, access_token="tok-123456789012", credentials={"client_secret": "x"}
        )

        response = admin_api.patch(
            f"{URL}{integration.pk}/", {"access_token": empty, "credentials": None}, format="json"
        )

        assert response.status_code == 200, response.content
        integration.refresh_from_db()
        assert integration.access_token == ""
        assert integration.credentials == {}
        body = response.json()
        assert body["has_access_token"] is False and body["access_token_masked"] == ""
        assert body["has_credentials"] is False and body["credentials_keys"] == []

    def test_credentials_are_replaced_as_a_whole(self, admin_api, org):
        integration = IntegrationFactory(organization=org, credentials={"a": "1", "b": "2"})

        response = admin_api.patch(f"{URL}{integration.pk}/", {"credentials": {"c": "3"}}, format="json")

        assert response.status_code == 200
        integration.refresh_from_db()
        assert integration.credentials == {"c": "3"}
        assert response.json()["credentials_keys"] == ["c"]

    def test_a_short_secret_is_masked_without_a_tail(self, admin_api, org):
        integration = IntegrationFactory(organization=org)

        response = admin_api.patch(f"{URL}{integration.pk}/", {"webhook_secret": "short"}, format="json")

        assert response.json()["webhook_secret_masked"] == "••••"
        assert "short" not in response.content.decode()

    @pytest.mark.parametrize(
        "body",
        [{"api_key": 12345678901234}, {"api_key": ["a"]}, {"credentials": ["not", "an", "object"]}],
    )
    def test_a_secret_of_the_wrong_type_is_refused(self, admin_api, org, body):
        integration = IntegrationFactory(organization=org, api_key="unchanged-key-0000")

        response = admin_api.patch(f"{URL}{integration.pk}/", body, format="json")

        assert response.status_code == 400
        assert set(response.json()["error"]["details"]) == set(body)
        integration.refresh_from_db()
        assert integration.api_key == "unchanged-key-0000"
