"""Integration admin: secrets never reach a page, write-only inputs, the provider select, and the actions."""

from __future__ import annotations

import html
import json
import re

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from connectors import registry
from connectors.base import ConnectionResult, Connector
from connectors.errors import ProviderError
from integrations.models import Integration
from syncjobs.models import SyncSchedule
from tests.factories import IntegrationFactory, MembershipFactory

pytestmark = pytest.mark.django_db

SECRETS = {
    "api_key": "ak-DISTINCT-key-7f3e9a1b2c",
    "api_secret": "as-DISTINCT-secret-55aa11bb",
    "webhook_secret": "whsec_DISTINCT_hook_0099zz",
    "access_token": "at-DISTINCT-token-abcdef12",
    "refresh_token": "rt-DISTINCT-refresh-98765",
}
CREDENTIAL_VALUE = "cred-DISTINCT-value-424242"
ALL_SECRET_STRINGS = [*SECRETS.values(), CREDENTIAL_VALUE]


class FakeConnector(Connector):
    """Behaves as the integration's config says: ok, provider error, or a crash — each echoing the api key."""

    key = "fake-admin"
    display_name = "Fake for admin tests"
    integration_type = "ecommerce"

    def test_connection(self) -> ConnectionResult:
        behaviour = self.integration.config.get("behaviour", "ok")
        if behaviour == "provider_error":
            raise ProviderError(f"rejected key {self.integration.api_key}", status_code=401)
        if behaviour == "crash":
            raise RuntimeError(f"socket died holding {self.integration.api_key}")
        return ConnectionResult(ok=True, latency_ms=7, detail=f"shop answered for {self.integration.api_key}")


@pytest.fixture
def fake_provider():
    registry.register(FakeConnector)
    yield FakeConnector
    registry.unregister(FakeConnector.key)


def staff_client(organization, role="admin"):
    user = MembershipFactory(organization=organization, role=role).user
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def secret_integration(org, fake_provider):
    return IntegrationFactory(
        organization=org, provider=fake_provider.key, credentials={"client_secret": CREDENTIAL_VALUE}, **SECRETS
    )


def change_url(integration):
    return reverse("admin:integrations_integration_change", args=[integration.pk])


def form_data(integration, **overrides):
    data = {
        "name": integration.name,
        "code": integration.code,
        "provider": integration.provider,
        "type": integration.type,
        "status": integration.status,
        "description": integration.description,
        "api_endpoint": integration.api_endpoint,
        "token_type": integration.token_type,
        "expires_at_0": "",
        "expires_at_1": "",
        "scope": "[]",
        "config": "{}",
        "metadata": "{}",
        **schedule_forms(integration),
    }
    data.update(overrides)
    return data


def schedule_forms(integration, **changes):
    """The change page's schedules inline as posted: each row unchanged unless `changes[job_type]` says."""
    rows = list(SyncSchedule.objects.filter(integration_id=integration.pk).order_by("id")) if integration.pk else []
    data = {"sync_schedules-TOTAL_FORMS": str(len(rows)), "sync_schedules-INITIAL_FORMS": str(len(rows)),
            "sync_schedules-MIN_NUM_FORMS": "0", "sync_schedules-MAX_NUM_FORMS": "0"}
    for index, row in enumerate(rows):
        fields = {"id": row.pk, "integration": integration.pk, "every_minutes": row.every_minutes,
                  "enabled": "on" if row.enabled else "", **changes.get(row.job_type, {})}
        data.update({f"sync_schedules-{index}-{name}": value for name, value in fields.items() if value != ""})
    return data


def assert_no_secret(response):
    body = response.content.decode()
    for secret in ALL_SECRET_STRINGS:
        assert secret not in body, f"secret {secret[:6]}… leaked"


def test_no_secret_on_changelist_change_page_or_after_replacing_one(org, secret_integration):
    client = staff_client(org)
    changelist = client.get(reverse("admin:integrations_integration_changelist"))
    assert changelist.status_code == 200
    assert secret_integration.code in changelist.content.decode()
    assert_no_secret(changelist)

    page = client.get(change_url(secret_integration))
    assert page.status_code == 200
    body = page.content.decode()
    assert_no_secret(page)
    assert "••••1b2c" in body  # the mask: the last four characters only
    assert "client_secret" in body  # credentials by key name only

    replacement = "ak-REPLACED-key-31415926"
    response = client.post(change_url(secret_integration), form_data(secret_integration, api_key_new=replacement),
                           follow=True)
    assert response.status_code == 200
    assert_no_secret(response)
    assert replacement not in response.content.decode()
    again = client.get(change_url(secret_integration))
    assert replacement not in again.content.decode()
    assert "••••5926" in again.content.decode()

    stored = Integration.objects.get(pk=secret_integration.pk)
    assert stored.api_key == replacement
    assert stored.api_secret == SECRETS["api_secret"]


def test_blank_inputs_keep_every_secret(org, secret_integration):
    client = staff_client(org)
    response = client.post(change_url(secret_integration), form_data(secret_integration, name="Renamed"))
    assert response.status_code == 302
    stored = Integration.objects.get(pk=secret_integration.pk)
    assert stored.name == "Renamed"
    for name, value in SECRETS.items():
        assert getattr(stored, name) == value
    assert stored.credentials == {"client_secret": CREDENTIAL_VALUE}


def test_clear_checkbox_clears_one_secret_and_credentials(org, secret_integration):
    client = staff_client(org)
    response = client.post(
        change_url(secret_integration),
        form_data(secret_integration, webhook_secret_clear="on", credentials_clear="on"),
    )
    assert response.status_code == 302
    stored = Integration.objects.get(pk=secret_integration.pk)
    assert stored.webhook_secret == ""
    assert stored.credentials == {}
    assert stored.api_key == SECRETS["api_key"]
    assert "not set" in client.get(change_url(secret_integration)).content.decode()


def test_credentials_json_replaces_the_object_and_bad_json_is_refused_without_echo(org, secret_integration):
    client = staff_client(org)
    new_creds = '{"shop_token": "st-NEW-credential-777", "region": "eu"}'
    client.post(change_url(secret_integration), form_data(secret_integration, credentials_new=new_creds))
    assert Integration.objects.get(pk=secret_integration.pk).credentials == {
        "shop_token": "st-NEW-credential-777", "region": "eu"
    }

    bad = '["not-an-object-SECRETISH-123"]'
    response = client.post(change_url(secret_integration), form_data(secret_integration, credentials_new=bad))
    assert response.status_code == 200  # the form again, with an error
    assert "Enter a JSON object" in response.content.decode()
    assert "SECRETISH" not in response.content.decode()
    assert "st-NEW-credential-777" not in response.content.decode()


def test_new_value_and_clear_together_is_an_error(org, secret_integration):
    client = staff_client(org)
    response = client.post(
        change_url(secret_integration),
        form_data(secret_integration, api_key_new="ak-other-value-1", api_key_clear="on"),
    )
    assert response.status_code == 200
    assert "not both" in response.content.decode()
    assert Integration.objects.get(pk=secret_integration.pk).api_key == SECRETS["api_key"]


def test_add_with_secrets_and_provider_from_registry(org, fake_provider):
    client = staff_client(org)
    add = client.get(reverse("admin:integrations_integration_add"))
    assert f'<option value="{fake_provider.key}">{fake_provider.display_name}</option>' in add.content.decode()

    data = form_data(
        Integration(name="New shop", code="new-shop", provider=fake_provider.key, type="ecommerce", status="inactive"),
        organization=str(org.pk), api_key_new="ak-ADDED-secret-2718",
    )
    response = client.post(reverse("admin:integrations_integration_add"), data, follow=True)
    assert response.status_code == 200
    assert "ak-ADDED-secret-2718" not in response.content.decode()
    created = Integration.objects.get(code="new-shop")
    assert created.organization == org
    assert created.api_key == "ak-ADDED-secret-2718"


def test_the_add_form_starts_in_the_users_organization_and_takes_type_and_code_from_provider_and_name(
    org, fake_provider
):
    client = staff_client(org)
    add = client.get(reverse("admin:integrations_integration_add")).content.decode()
    assert f'<option value="{org.pk}" selected>' in add
    secrets = json.loads(html.unescape(re.search(r'data-secrets="([^"]*)"', add).group(1)))
    assert secrets["stripe"] == ["api_key", "webhook_secret"]  # what its connector declares it reads
    assert secrets["sendgrid"] == ["api_key", "api_secret", "webhook_secret", "credentials"]  # from its auth kind
    assert secrets["anaf"] == []  # nothing to enter for a provider that needs no credentials

    data = form_data(Integration(name="Stripe EU", code="", provider="stripe", type="", status="inactive"),
                     organization=str(org.pk))
    response = client.post(reverse("admin:integrations_integration_add"), data, follow=True)
    created = Integration.objects.get(name="Stripe EU")
    assert (created.code, created.type) == ("stripe-eu", "payment_gateway")
    assert "Stripe EU (stripe-eu)" in response.content.decode()


def test_unregistered_provider_is_refused(org, fake_provider):
    client = staff_client(org)
    data = form_data(
        Integration(name="X", code="x-shop", provider="nope", type="ecommerce", status="inactive"),
        organization=str(org.pk),
    )
    response = client.post(reverse("admin:integrations_integration_add"), data)
    assert response.status_code == 200
    assert not Integration.objects.filter(code="x-shop").exists()


def _run_action(client, action, integrations):
    return client.post(
        reverse("admin:integrations_integration_changelist"),
        {"action": action, "_selected_action": [str(i.pk) for i in integrations]},
    )


@pytest.mark.parametrize(
    ("behaviour", "level", "expected"),
    [("ok", "success", "connection OK"), ("provider_error", "error", "PROVIDER_ERROR"),
     ("crash", "error", "RuntimeError")],
)
def test_test_connection_action_reports_without_secrets(org, secret_integration, behaviour, level, expected):
    secret_integration.config = {"behaviour": behaviour}
    secret_integration.save()
    client = staff_client(org, role="operator")
    response = _run_action(client, "test_connection", [secret_integration])
    assert response.status_code == 302
    shown = [(m.level_tag, str(m)) for m in get_messages(response.wsgi_request)]
    assert len(shown) == 1
    assert shown[0][0] == level
    assert expected in shown[0][1]
    assert SECRETS["api_key"] not in shown[0][1]
    assert_no_secret(client.get(reverse("admin:integrations_integration_changelist")))


def test_operator_cannot_activate_or_deactivate_but_admin_can(org, secret_integration):
    secret_integration.status = "inactive"
    secret_integration.save()
    operator = staff_client(org, role="operator")
    response = _run_action(operator, "activate", [secret_integration])
    # The action is not offered to an operator: Django answers "no action selected" and changes nothing.
    assert response.status_code in (200, 302)
    assert Integration.objects.get(pk=secret_integration.pk).status == "inactive"

    admin_client = staff_client(org, role="admin")
    _run_action(admin_client, "activate", [secret_integration])
    assert Integration.objects.get(pk=secret_integration.pk).status == "active"
    _run_action(admin_client, "deactivate", [secret_integration])
    assert Integration.objects.get(pk=secret_integration.pk).status == "inactive"


def test_viewer_sees_a_read_only_page_without_inputs_or_secrets(org, secret_integration):
    client = staff_client(org, role="viewer")
    page = client.get(change_url(secret_integration))
    assert page.status_code == 200
    body = page.content.decode()
    assert_no_secret(page)
    assert 'name="api_key_new"' not in body
    assert 'name="_save"' not in body
    response = client.post(change_url(secret_integration), form_data(secret_integration, name="Hijacked"))
    assert response.status_code == 403
    assert Integration.objects.get(pk=secret_integration.pk).name != "Hijacked"
    assert _run_action(client, "test_connection", [secret_integration]).status_code in (200, 302)
    assert Integration.objects.get(pk=secret_integration.pk).last_error == ""
