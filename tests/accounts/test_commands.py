"""`create_organization` and `create_api_key` from a shell; the printed key works against the API."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from accounts.models import ApiKey, Organization
from tests.factories import IntegrationFactory, OrganizationFactory

pytestmark = pytest.mark.django_db


def run(command: str, /, *args: str) -> str:
    """Run a command as a shell would (arguments parsed by argparse) and return its stdout."""
    out = StringIO()
    call_command(command, *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_create_organization_with_a_name():
    out = run("create_organization", "acme", "--name", "Acme Ltd")
    organization = Organization.objects.get(slug="acme")
    assert organization.name == "Acme Ltd"
    assert "acme" in out


def test_create_organization_name_defaults_to_the_slug():
    run("create_organization", "bare")
    assert Organization.objects.get(slug="bare").name == "bare"


def test_create_organization_refuses_a_duplicate_slug():
    OrganizationFactory(slug="taken")
    with pytest.raises(CommandError, match="'taken' already exists"):
        run("create_organization", "taken")
    assert Organization.objects.filter(slug="taken").count() == 1


@pytest.mark.parametrize("slug", ["has space", "semi;colon", "ünïcode", ""])
def test_create_organization_refuses_a_bad_slug(slug):
    with pytest.raises(CommandError, match="not a valid slug"):
        run("create_organization", slug)
    assert not Organization.objects.exists()


def test_create_api_key_prints_the_key_alone_on_the_last_line(org):
    out = run("create_api_key", "--org", org.slug, "--name", "ci")
    lines = out.rstrip("\n").split("\n")
    raw = lines[-1]
    assert raw.startswith("sy_") and " " not in raw
    assert raw not in "\n".join(lines[:-1])
    key = ApiKey.objects.get(organization=org, name="ci")
    assert key.role == "operator"
    assert key.prefix in raw
    assert raw not in {str(v) for v in ApiKey.objects.filter(pk=key.pk).values().get().values()}


@pytest.mark.urls("tests.accounts.test_api_key_auth")
def test_the_printed_key_authenticates_against_the_api(org):
    raw = run("create_api_key", "--org", org.slug, "--name", "robot", "--role", "viewer").rstrip("\n").split("\n")[-1]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    response = client.get("/whoami/")
    assert response.status_code == 200
    assert response.json() == {"organization": org.slug, "role": "viewer"}


@pytest.mark.parametrize("role", ["viewer", "operator", "admin", "owner"])
def test_create_api_key_with_each_role(org, role):
    run("create_api_key", "--org", org.slug, "--name", f"k-{role}", "--role", role)
    assert ApiKey.objects.get(name=f"k-{role}").role == role


def test_create_api_key_refuses_an_unknown_organization():
    with pytest.raises(CommandError, match="No organization with slug 'nope'"):
        run("create_api_key", "--org", "nope", "--name", "x")
    assert not ApiKey.objects.exists()


def test_create_api_key_refuses_an_unknown_role(org):
    with pytest.raises(CommandError, match="Unknown role 'superuser': choose one of viewer, operator, admin, owner"):
        run("create_api_key", "--org", org.slug, "--name", "x", "--role", "superuser")
    assert not ApiKey.objects.exists()


def test_create_api_key_needs_org_and_name(org):
    with pytest.raises(CommandError, match="--org"):
        call_command("create_api_key", "--name", "x", stdout=StringIO(), stderr=StringIO())
    with pytest.raises(CommandError, match="--name"):
        call_command("create_api_key", "--org", org.slug, stdout=StringIO(), stderr=StringIO())


def test_each_key_is_new(org):
    first = run("create_api_key", "--org", org.slug, "--name", "a").split("\n")[-2]
    second = run("create_api_key", "--org", org.slug, "--name", "a").split("\n")[-2]
    assert first != second
    assert ApiKey.objects.filter(organization=org).count() == 2


def test_the_printed_key_lists_its_organizations_integrations(org, other_org):
    mine, theirs = IntegrationFactory(organization=org), IntegrationFactory(organization=other_org)
    raw = run("create_api_key", "--org", org.slug, "--name", "robot").rstrip("\n").split("\n")[-1]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    response = client.get("/api/integrations/")
    assert response.status_code == 200
    codes = {item["code"] for item in response.json()["results"]}
    assert mine.code in codes and theirs.code not in codes


def test_create_api_key_is_in_the_audit_trail_without_the_key():
    from accounts.models import AuditEvent

    organization = OrganizationFactory(slug="audited")
    raw = run("create_api_key", "--org", "audited", "--name", "erp", "--role", "admin").strip().splitlines()[-1]
    event = AuditEvent.objects.get(action="api_key.created")
    assert event.organization == organization and event.via == "command"
    assert event.actor_label.startswith("command create_api_key (")
    assert event.target_repr and raw not in str(event.details) and raw not in event.target_repr
