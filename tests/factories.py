"""factory-boy factories for the core records."""

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model

from accounts.models import Membership, Organization
from accounts.services import api_key_create
from integrations.models import Integration, IntegrationLog


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization

    slug = factory.Sequence(lambda n: f"org-{n}")
    name = factory.Sequence(lambda n: f"Organization {n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    is_staff = True
    password = factory.PostGenerationMethodCall("set_password", "pass-word-123")

    @factory.post_generation
    def save_password(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    organization = factory.SubFactory(OrganizationFactory)
    role = "operator"


class ApiKeyFactory:
    """API keys come from the service (which alone knows the raw value), not from a model factory."""

    @staticmethod
    def create_with_raw(*, organization=None, role="admin", name="test key"):
        return api_key_create(organization=organization or OrganizationFactory(), name=name, role=role)


class IntegrationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Integration

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Shop {n}")
    code = factory.Sequence(lambda n: f"shop-{n}")
    type = "ecommerce"
    provider = "sandbox"
    status = "active"


class IntegrationLogFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = IntegrationLog

    integration = factory.SubFactory(IntegrationFactory)
    organization = factory.SelfAttribute("integration.organization")
    action = "list_orders"
    method = "GET"
    endpoint = "https://shop.example/admin/api/orders.json"
    status_code = 200
    duration_ms = 12
