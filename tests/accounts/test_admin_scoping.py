"""Organization scoping and roles in the admin console."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import Membership, Organization
from integrations.models import Integration
from tests.factories import IntegrationFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def login(user):
    client = Client()
    client.force_login(user)
    return client


def member(organization, role):
    return MembershipFactory(organization=organization, role=role).user


def test_member_of_a_sees_nothing_of_b(org, other_org):
    mine = IntegrationFactory(organization=org, name="Mine shop")
    theirs = IntegrationFactory(organization=other_org, name="Their shop")
    client = login(member(org, "admin"))

    body = client.get(reverse("admin:integrations_integration_changelist")).content.decode()
    assert mine.code in body
    assert theirs.code not in body
    assert other_org.name not in body  # not even in the organization filter

    for view in ("change", "history", "delete"):
        response = client.get(reverse(f"admin:integrations_integration_{view}", args=[theirs.pk]))
        assert response.status_code in (302, 404), view
        assert response.status_code != 403
    assert client.get(reverse("admin:accounts_organization_change", args=[other_org.pk])).status_code == 302


def test_foreign_key_choices_offer_only_organizations_the_user_administers(org, other_org):
    viewer_org = Organization.objects.create(slug="viewed", name="Only viewed")
    user = member(org, "admin")
    Membership.objects.create(user=user, organization=viewer_org, role="viewer")
    body = login(user).get(reverse("admin:integrations_integration_add")).content.decode()
    assert f'<option value="{org.pk}"' in body
    assert f'<option value="{other_org.pk}"' not in body
    assert f'<option value="{viewer_org.pk}"' not in body


def test_posting_another_organization_is_refused(org, other_org):
    client = login(member(org, "admin"))
    response = client.post(reverse("admin:integrations_integration_add"), {
        "organization": str(other_org.pk), "name": "Sneaky", "code": "sneaky", "provider": "sandbox",
        "type": "ecommerce", "status": "inactive", "scope": "[]", "config": "{}", "metadata": "{}",
    })
    assert response.status_code == 200
    assert not Integration.objects.filter(code="sneaky").exists()


def test_an_action_is_limited_to_organizations_where_the_role_allows_it(org, other_org):
    user = member(org, "admin")
    Membership.objects.create(user=user, organization=other_org, role="viewer")
    administered = IntegrationFactory(organization=org, status="active")
    only_viewed = IntegrationFactory(organization=other_org, status="active")
    login(user).post(reverse("admin:integrations_integration_changelist"), {
        "action": "deactivate", "_selected_action": [str(administered.pk), str(only_viewed.pk)],
    })
    assert Integration.objects.get(pk=administered.pk).status == "inactive"
    assert Integration.objects.get(pk=only_viewed.pk).status == "active"


def test_bulk_delete_skips_rows_of_organizations_where_the_user_is_a_viewer(org, other_org):
    user = member(org, "admin")
    Membership.objects.create(user=user, organization=other_org, role="viewer")
    administered = IntegrationFactory(organization=org)
    only_viewed = IntegrationFactory(organization=other_org)
    login(user).post(reverse("admin:integrations_integration_changelist"), {
        "action": "delete_selected", "post": "yes", "_selected_action": [str(administered.pk), str(only_viewed.pk)],
    })
    assert not Integration.objects.filter(pk=administered.pk).exists()
    assert Integration.objects.filter(pk=only_viewed.pk).exists()


def test_staff_without_membership_sees_no_apps(org):
    client = login(UserFactory())
    index = client.get(reverse("admin:index"))
    assert index.status_code == 200
    assert "Integrations" not in index.content.decode()
    assert client.get(reverse("admin:integrations_integration_changelist")).status_code == 403


def test_superuser_sees_every_organization(org, other_org):
    a, b = IntegrationFactory(organization=org), IntegrationFactory(organization=other_org)
    body = login(UserFactory(is_superuser=True)).get(reverse("admin:integrations_integration_changelist"))
    assert a.code in body.content.decode() and b.code in body.content.decode()


def test_membership_inline_grants_no_role_above_ones_own(org):
    admin_user = member(org, "admin")
    newcomer = UserFactory()
    client = login(admin_user)
    page = client.get(reverse("admin:accounts_organization_change", args=[org.pk])).content.decode()
    assert '<option value="admin"' in page and '<option value="owner"' not in page

    existing = list(org.memberships.order_by("pk"))
    data = {
        "slug": org.slug, "name": org.name, "oauth_redirect_uris": "[]",
        "memberships-TOTAL_FORMS": str(len(existing) + 1), "memberships-INITIAL_FORMS": str(len(existing)),
        "memberships-MIN_NUM_FORMS": "0", "memberships-MAX_NUM_FORMS": "1000",
    }
    for i, m in enumerate(existing):
        data.update({f"memberships-{i}-id": str(m.pk), f"memberships-{i}-organization": str(org.pk),
                     f"memberships-{i}-user": str(m.user_id), f"memberships-{i}-role": m.role})
    n = len(existing)
    data.update({f"memberships-{n}-organization": str(org.pk), f"memberships-{n}-user": str(newcomer.pk),
                 f"memberships-{n}-role": "owner"})
    assert client.post(reverse("admin:accounts_organization_change", args=[org.pk]), data).status_code == 200
    assert not Membership.objects.filter(user=newcomer).exists()
    data[f"memberships-{n}-role"] = "operator"
    assert client.post(reverse("admin:accounts_organization_change", args=[org.pk]), data).status_code == 302
    assert Membership.objects.get(user=newcomer).role == "operator"


def test_viewer_cannot_edit_organization_or_add_integrations(org):
    client = login(member(org, "viewer"))
    assert client.get(reverse("admin:accounts_organization_change", args=[org.pk])).status_code == 200
    assert client.post(reverse("admin:accounts_organization_change", args=[org.pk]), {"name": "x"}).status_code == 403
    assert client.get(reverse("admin:integrations_integration_add")).status_code == 403
    assert client.get(reverse("admin:accounts_organization_add")).status_code == 403
