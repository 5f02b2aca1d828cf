"""List filters the console's admins share: the staff user's organizations and integrations, and providers.

The in-scope filters offer only what the user may see (a small table each) and
filter on an indexed foreign-key column, so they cost no scan of the big tables.
"""

from __future__ import annotations

from django.contrib import admin

from accounts.models import Organization, Role
from accounts.staff_scope import organization_ids_with_role
from connectors import registry
from integrations.models import Integration


class ProviderFilter(admin.SimpleListFilter):
    """Providers by their display names, from the connector registry."""

    title = "provider"
    parameter_name = "provider"

    def lookups(self, request, model_admin):
        return registry.provider_choices()

    def queryset(self, request, queryset):
        return queryset.filter(provider=self.value()) if self.value() else queryset


class OrganizationInScopeFilter(admin.SimpleListFilter):
    """The user's organizations (a small table), filtering on the indexed organization column without a scan."""

    title = "organization"
    parameter_name = "organization"

    def lookups(self, request, model_admin):
        ids = organization_ids_with_role(request, Role.VIEWER)
        organizations = Organization.objects.all() if ids is None else Organization.objects.filter(pk__in=ids)
        return [(str(pk), name) for pk, name in organizations.values_list("pk", "name")]

    def queryset(self, request, queryset):
        value = self.value()
        return queryset.filter(organization_id=value) if value and value.isdigit() else queryset


class IntegrationInScopeFilter(admin.SimpleListFilter):
    """Integrations of the user's organizations (a small table), filtering logs on their indexed column."""

    title = "integration"
    parameter_name = "integration"

    def lookups(self, request, model_admin):
        ids = organization_ids_with_role(request, Role.VIEWER)
        integrations = Integration.objects.all() if ids is None else Integration.objects.filter(organization__in=ids)
        return [(str(pk), f"{name} ({code})") for pk, name, code in integrations.values_list("pk", "name", "code")]

    def queryset(self, request, queryset):
        value = self.value()
        return queryset.filter(integration_id=value) if value and value.isdigit() else queryset
