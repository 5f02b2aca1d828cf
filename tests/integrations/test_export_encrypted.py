"""Exports keep secrets encrypted: dumpdata and `manage.py backup` write ciphertext, loaddata reads it back."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command

from integrations.encryption import is_encrypted
from integrations.models import Integration
from tests.factories import IntegrationFactory
from webhooks.models import WebhookEndpoint

pytestmark = pytest.mark.django_db

PLANTED = {
    "api_key": "planted-api-key-0001",
    "api_secret": "planted-api-secret-0002",
    "webhook_secret": "planted-webhook-secret-0003",
    "access_token": "planted-access-token-0004",
    "refresh_token": "planted-refresh-token-0005",
}
CREDENTIALS = {"client_secret": "planted-client-secret-0006", "nested": {"pin": "planted-pin-0007"}}
ENDPOINT_SECRET = "whsec_cGxhbnRlZC1lbmRwb2ludC1zZWNyZXQtMDAwOA=="
PREVIOUS_SECRET = "whsec_cGxhbnRlZC1wcmV2aW91cy1zZWNyZXQtMDAwOQ=="
ALL_PLANTED = [*PLANTED.values(), "planted-client-secret-0006", "planted-pin-0007", ENDPOINT_SECRET,
               PREVIOUS_SECRET, "cGxhbnRlZC"]


@pytest.fixture
def planted(org):
    integrations = [IntegrationFactory(organization=org, credentials=CREDENTIALS, **PLANTED) for _ in range(2)]
    endpoint = WebhookEndpoint.objects.create(organization=org, url="https://hooks.example.com/", events=["*"],
                                              secret=ENDPOINT_SECRET, previous_secret=PREVIOUS_SECRET)
    return integrations, endpoint


def _dump(*labels) -> str:
    out = io.StringIO()
    call_command("dumpdata", *labels, stdout=out)
    return out.getvalue()


def _assert_secrets_readable(integrations, endpoint):
    for row in Integration.objects.filter(pk__in=[i.pk for i in integrations]):
        assert {name: getattr(row, name) for name in PLANTED} == PLANTED
        assert row.credentials == CREDENTIALS
    row = WebhookEndpoint.objects.get(pk=endpoint.pk)
    assert (row.secret, row.previous_secret) == (ENDPOINT_SECRET, PREVIOUS_SECRET)


def test_dumpdata_writes_ciphertext_and_loaddata_reads_it_back(planted, tmp_path):
    integrations, endpoint = planted
    dumped = _dump("integrations.integration", "webhooks.webhookendpoint")

    for secret in ALL_PLANTED:
        assert secret not in dumped
    records = json.loads(dumped)
    for record in records:
        if record["model"] == "integrations.integration":
            for name in (*PLANTED, "credentials"):
                assert is_encrypted(record["fields"][name]), name

    path = tmp_path / "dump.json"
    path.write_text(dumped)
    WebhookEndpoint.objects.all().delete()
    Integration.objects.all().delete()
    call_command("loaddata", str(path), stdout=io.StringIO())

    _assert_secrets_readable(integrations, endpoint)


def test_backup_writes_every_record_with_ciphertext_and_restores(planted, tmp_path):
    integrations, endpoint = planted
    path = tmp_path / "backup.json"
    err = io.StringIO()
    call_command("backup", str(path), stdout=io.StringIO(), stderr=err)

    text = path.read_text()
    for secret in ALL_PLANTED:
        assert secret not in text
    models = {record["model"] for record in json.loads(text)}
    assert {"accounts.organization", "integrations.integration", "webhooks.webhookendpoint"} <= models
    assert "integrations.Integration" in err.getvalue()  # the progress names each model as it goes

    WebhookEndpoint.objects.all().delete()
    Integration.objects.all().delete()
    call_command("loaddata", str(path), stdout=io.StringIO())

    _assert_secrets_readable(integrations, endpoint)


def test_an_export_under_a_key_no_longer_in_the_ring_fails_to_load_loudly(planted, tmp_path, settings):
    path = tmp_path / "dump.json"
    path.write_text(_dump("integrations.integration"))
    Integration.objects.all().delete()
    settings.ENCRYPTION_KEYS = ["AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="]

    with pytest.raises(Exception, match="not in ENCRYPTION_KEYS"):
        call_command("loaddata", str(path), stdout=io.StringIO())
