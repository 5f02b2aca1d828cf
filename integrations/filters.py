"""Query-string filters and ordering for the integrations API.

Ordering has to stay compatible with cursor pagination, which keeps its place
by the value of the first ordering field: that value must never be NULL. So
`?ordering=last_sync_at` sorts on `last_sync_sort`, the last sync time with
never-synced integrations at the epoch (last in descending order).
"""

from __future__ import annotations

from datetime import UTC, datetime

import django_filters
from django.db.models import DateTimeField, Value
from django.db.models.functions import Coalesce
from rest_framework.filters import OrderingFilter

from config.api import DateTimeFilter, IdFilter

from .models import Integration, IntegrationLog, IntegrationStatus, IntegrationType, LogDirection

_NEVER = datetime(1970, 1, 1, tzinfo=UTC)


class IntegrationFilter(django_filters.FilterSet):
    provider = django_filters.CharFilter()
    type = django_filters.ChoiceFilter(choices=IntegrationType.choices)
    status = django_filters.ChoiceFilter(choices=IntegrationStatus.choices)
    auto_sync_enabled = django_filters.TypedChoiceFilter(
        choices=[("true", "true"), ("false", "false")],
        coerce=lambda value: value == "true",
        help_text="true or false; anything else is a VALIDATION_ERROR, not a silently ignored filter.",
    )
    connected_by = django_filters.CharFilter(
        help_text="The integrations a user connected (the id your user service gives them).")

    class Meta:
        model = Integration
        fields = ["provider", "type", "status", "auto_sync_enabled", "connected_by"]


class IntegrationLogFilter(django_filters.FilterSet):
    integration = IdFilter(field_name="integration_id", help_text="An integration id.")
    action = django_filters.CharFilter()
    direction = django_filters.ChoiceFilter(choices=LogDirection.choices)
    status_code = django_filters.NumberFilter()
    created_after = DateTimeFilter(
        field_name="created_at", lookup_expr="gte", help_text="ISO 8601; rows created at or after this time."
    )
    created_before = DateTimeFilter(
        field_name="created_at", lookup_expr="lt", help_text="ISO 8601; rows created strictly before this time."
    )

    class Meta:
        model = IntegrationLog
        fields = ["integration", "action", "direction", "status_code", "created_after", "created_before"]


class CursorSafeOrderingFilter(OrderingFilter):
    """OrderingFilter that orders nullable datetime fields by a never-NULL stand-in (see the module docstring).

    The view's `null_safe_ordering` maps a public ordering name to its stand-in's
    name; the stand-in is annotated on every queryset this filter sees, so the
    cursor paginator can read it off each row.
    """

    def get_ordering(self, request, queryset, view):
        ordering = super().get_ordering(request, queryset, view)
        aliases = getattr(view, "null_safe_ordering", {})
        if not ordering or not aliases:
            return ordering
        return [self._alias(term, aliases) for term in ordering]

    @staticmethod
    def _alias(term: str, aliases: dict[str, str]) -> str:
        name = term.lstrip("-")
        return term.replace(name, aliases.get(name, name))

    def filter_queryset(self, request, queryset, view):
        aliases = getattr(view, "null_safe_ordering", {})
        if aliases:
            never = Value(_NEVER, output_field=DateTimeField())
            queryset = queryset.annotate(**{alias: Coalesce(name, never) for name, alias in aliases.items()})
        return super().filter_queryset(request, queryset, view)
