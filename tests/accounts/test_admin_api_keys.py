"""API key admin: the raw key is shown once, authenticates, and the hash never appears."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import ApiKey
from accounts.services import api_key_authenticate
from tests.factories import ApiKeyFactory, MembershipFactory

pytestmark = pytest.mark.django_db


def staff_client(organization, role="admin"):
    client = Client()
    client.force_login(MembershipFactory(organization=organization, role=role).user)
    return client


def test_created_key_is_shown_once_and_authenticates(org):
    client = staff_client(org)
    response = client.post(reverse("admin:accounts_apikey_add"),
                           {"organization": str(org.pk), "name": "ERP sync", "role": "operator"})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    raw = re.search(r'id="raw-api-key"[^>]*>([^<]+)<', response.content.decode()).group(1)
    key = ApiKey.objects.get(name="ERP sync")
    assert raw.startswith(f"sy_{key.prefix}_")
    assert key.created_by is not None and key.role == "operator"

    authenticated = api_key_authenticate(raw)
    assert authenticated is not None and authenticated.pk == key.pk

    for url in (reverse("admin:accounts_apikey_changelist"), reverse("admin:accounts_apikey_change", args=[key.pk]),
                reverse("admin:index")):
        body = client.get(url).content.decode()
        assert raw not in body
        assert key.hashed_key not in body
    assert key.prefix in client.get(reverse("admin:accounts_apikey_changelist")).content.decode()
    assert raw not in client.cookies.output()


def test_admin_cannot_mint_an_owner_key(org):
    client = staff_client(org, role="admin")
    response = client.post(reverse("admin:accounts_apikey_add"),
                           {"organization": str(org.pk), "name": "too strong", "role": "owner"})
    assert response.status_code == 200
    assert "above your own" in response.content.decode()
    assert not ApiKey.objects.filter(name="too strong").exists()


def test_revoke_action(org):
    key, raw = ApiKeyFactory.create_with_raw(organization=org)
    client = staff_client(org)
    client.post(reverse("admin:accounts_apikey_changelist"), {"action": "revoke", "_selected_action": [str(key.pk)]})
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert api_key_authenticate(raw) is None


def test_operator_cannot_revoke_or_add(org):
    key, raw = ApiKeyFactory.create_with_raw(organization=org)
    client = staff_client(org, role="operator")
    client.post(reverse("admin:accounts_apikey_changelist"), {"action": "revoke", "_selected_action": [str(key.pk)]})
    key.refresh_from_db()
    assert key.revoked_at is None
    assert client.get(reverse("admin:accounts_apikey_add")).status_code == 403


def test_hashed_key_never_shown_even_to_superusers(org):
    key, _ = ApiKeyFactory.create_with_raw(organization=org)
    client = Client()
    client.force_login(MembershipFactory(organization=org, role="owner", user__is_superuser=True).user)
    body = client.get(reverse("admin:accounts_apikey_change", args=[key.pk])).content.decode()
    assert key.hashed_key not in body
    assert "hashed" not in body.lower()
