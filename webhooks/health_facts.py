"""What webhooks tell about an integration's health (integrations/health_selectors.py judges it).

Registered as a health source in WebhooksConfig.ready. Per page of integrations, two GROUP BY queries:
incoming webhooks (the backlog, those retrying after an error, those failed in the window) and failing
outgoing endpoints, the integration's own and its organization's organization-wide ones.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Count, Q

from integrations.health_selectors import HealthFacts
from integrations.models import Integration

from .models import IncomingStatus, IncomingWebhook, WebhookEndpoint

_WAITING = (IncomingStatus.PENDING, IncomingStatus.PROCESSING)
# Failing, or switched off because it kept failing (a user's switch-off leaves no disabled_reason).
ENDPOINT_FAILING = Q(failing_since__isnull=False) | Q(is_active=False, disabled_reason__gt="")


def incoming_webhook_facts(*, integrations: list[Integration], facts: dict[int, HealthFacts], since: datetime,
                           **_: Any) -> None:
    """The backlog (pending or processing), of it those retrying after an error, and those failed since `since`.

    A row retrying after an error is pending (or processing) with the error of its last attempt still on it;
    it counts as failing: 226 of them are a broken feed, not a queue.
    """
    retrying = Q(status__in=_WAITING) & ~Q(error_message="")
    rows = (IncomingWebhook.objects
            .filter(Q(status__in=_WAITING) | Q(status=IncomingStatus.FAILED, received_at__gte=since),
                    integration_id__in=list(facts))
            .order_by().values("integration_id")
            .annotate(waiting=Count("pk", filter=Q(status__in=_WAITING)), retrying=Count("pk", filter=retrying),
                      failed=Count("pk", filter=Q(status=IncomingStatus.FAILED))))
    for row in rows:
        found = facts[row["integration_id"]]
        found.webhooks_pending, found.webhooks_retrying = row["waiting"], row["retrying"]
        found.webhooks_failed = row["failed"]


def endpoint_facts(*, integrations: list[Integration], facts: dict[int, HealthFacts], **_: Any) -> None:
    """Failing outgoing endpoints of each integration, and its organization's organization-wide ones."""
    organizations = {i.organization_id for i in integrations}
    rows = (WebhookEndpoint.objects.filter(ENDPOINT_FAILING)
            .filter(Q(integration_id__in=list(facts))
                    | Q(integration__isnull=True, organization_id__in=organizations))
            .order_by().values("integration_id", "organization_id").annotate(n=Count("pk")))
    organization_wide: dict[int, int] = {}
    for row in rows:
        if row["integration_id"] is None:
            organization_wide[row["organization_id"]] = row["n"]
        else:
            facts[row["integration_id"]].endpoints_failing = row["n"]
    for integration in integrations:
        facts[integration.pk].organization_endpoints_failing = organization_wide.get(integration.organization_id, 0)
