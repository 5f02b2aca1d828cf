"""Query-string filters of GET /api/webhooks/: status, integration (id or code), event type, received range."""

from __future__ import annotations

import django_filters

from config.api import DateTimeFilter, IdFilter
from webhooks.models import IncomingStatus, IncomingWebhook


class IncomingWebhookFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=IncomingStatus.choices)
    integration = IdFilter(field_name="integration_id", help_text="An integration id.")
    integration_code = django_filters.CharFilter(field_name="integration__code", help_text="An integration code.")
    event_type = django_filters.CharFilter()
    received_after = DateTimeFilter(
        field_name="received_at", lookup_expr="gte", help_text="ISO 8601; received at or after this time."
    )
    received_before = DateTimeFilter(
        field_name="received_at", lookup_expr="lt", help_text="ISO 8601; received strictly before this time."
    )

    class Meta:
        model = IncomingWebhook
        fields = ["status", "integration", "integration_code", "event_type", "received_after", "received_before"]
