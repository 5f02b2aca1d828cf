"""Staff clients by role for the operator console tests."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.factories import IntegrationFactory, MembershipFactory


@pytest.fixture
def staff():
    """`staff(org, "operator")` → a logged-in admin client of a new member with that role (`.user` is the user)."""

    def make(organization, role: str) -> Client:
        membership = MembershipFactory(organization=organization, role=role)
        client = Client(REMOTE_ADDR="198.51.100.23")
        client.force_login(membership.user)
        client.user = membership.user
        return client

    return make


@pytest.fixture
def shop_integration(org):
    return IntegrationFactory(organization=org, name="Main shop", code="main-shop", provider="sandbox",
                              api_key="sk_live_console_secret_4242")
