"""The admin dashboard's reads: one health row per integration and the last 24 hours as hourly series.

Everything here is a bounded number of aggregate queries, whatever the number
of integrations: the integrations, then their health (integrations/health_selectors.py,
the one computation the list, the integration page and the API show too: a few
GROUP BY queries per page), and one GROUP BY hour per chart. No per-integration
query (N+1).

Scope: `organization_ids` is the list of organizations the operator may see;
None means every organization (a superuser).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Count, QuerySet
from django.db.models.functions import TruncHour
from django.utils import timezone

from integrations.health_selectors import HealthFacts, IntegrationHealth, integrations_health
from integrations.models import SECRET_FIELDS, Integration
from syncjobs.models import SyncJob
from webhooks.health_facts import ENDPOINT_FAILING
from webhooks.models import DeliveryStatus, IncomingWebhook, WebhookDelivery, WebhookEndpoint

WINDOW = timedelta(hours=24)
# A dashboard lists at most this many integrations (a superuser of a large installation has thousands).
ROW_LIMIT = 200


@dataclass
class HealthRow:
    """A dashboard row: the integration and its health (integrations/health_selectors.py, as everywhere)."""

    integration: Integration
    report: IntegrationHealth

    @property
    def health(self) -> str:
        return self.report.state

    @property
    def health_label(self) -> str:
        return self.report.label

    @property
    def reasons(self) -> list[str]:
        return self.report.reasons

    @property
    def facts(self) -> HealthFacts:
        """The counts and jobs behind it: calls, webhooks_retrying, endpoints_failing, last_job_id, …"""
        return self.report.facts


@dataclass
class Series:
    """Hourly buckets (oldest first) with a count per key, e.g. {"completed": 3, "failed": 1}."""

    hours: list[datetime]
    values: dict[str, list[int]] = field(default_factory=dict)

    def total(self, key: str) -> int:
        return sum(self.values.get(key, []))


@dataclass
class Dashboard:
    rows: list[HealthRow]
    more: int
    syncs: Series
    incoming: Series
    deliveries: Series
    health_counts: dict[str, int]

    @property
    def delivery_success_rate(self) -> list[float | None]:
        """Per hour: delivered / (delivered + failed + retrying); None in an hour without outcomes."""
        empty = [0] * len(self.deliveries.hours)
        delivered = self.deliveries.values.get(DeliveryStatus.DELIVERED, empty)
        failed = self.deliveries.values.get(DeliveryStatus.FAILED, empty)
        retrying = self.deliveries.values.get(DeliveryStatus.RETRYING, empty)
        return [ok / (ok + bad + later) if ok + bad + later else None
                for ok, bad, later in zip(delivered, failed, retrying, strict=True)]


def _scoped(queryset: QuerySet, organization_ids: list[int] | None, path: str = "organization_id") -> QuerySet:
    return queryset if organization_ids is None else queryset.filter(**{f"{path}__in": organization_ids})


def _hours(now: datetime) -> list[datetime]:
    top = now.replace(minute=0, second=0, microsecond=0)
    return [top - timedelta(hours=h) for h in range(23, -1, -1)]


def _hourly(queryset: QuerySet, *, time_field: str, key_field: str, now: datetime) -> Series:
    hours = _hours(now)
    index = {hour: i for i, hour in enumerate(hours)}
    series = Series(hours=hours)
    rows = (queryset.filter(**{f"{time_field}__gte": hours[0]}).order_by()
            .annotate(hour=TruncHour(time_field)).values("hour", key_field).annotate(n=Count("pk")))
    for row in rows:
        hour = row["hour"]
        if hour is None:
            continue
        if timezone.is_naive(hour):
            hour = timezone.make_aware(hour, timezone.get_current_timezone())
        position = index.get(hour.astimezone(hours[0].tzinfo))
        if position is not None:
            series.values.setdefault(row[key_field], [0] * len(hours))[position] += row["n"]
    return series


def integration_health_rows(
    *, organization_ids: list[int] | None, now: datetime | None = None, limit: int = ROW_LIMIT
) -> tuple[list[HealthRow], int]:
    """The health rows of the integrations in scope (at most `limit`) and how many more there are."""
    integrations = list(
        _scoped(Integration.objects.all(), organization_ids)
        .select_related("organization")
        .defer(*SECRET_FIELDS)
        .order_by("organization__name", "name", "pk")[: limit + 1]
    )
    more = 0
    if len(integrations) > limit:
        integrations = integrations[:limit]
        more = _scoped(Integration.objects.all(), organization_ids).count() - limit
    reports = integrations_health(integrations, now=now)
    return [HealthRow(integration=i, report=reports[i.pk]) for i in integrations], more


def dashboard_get(*, organization_ids: list[int] | None, now: datetime | None = None) -> Dashboard:
    """Everything the admin index shows, for the organizations in scope (None: all)."""
    now = now or timezone.now()
    rows, more = integration_health_rows(organization_ids=organization_ids, now=now)
    counts: dict[str, int] = defaultdict(int)
    for row in rows:
        counts[row.health] += 1
    return Dashboard(
        rows=rows,
        more=more,
        syncs=_hourly(_scoped(SyncJob.objects.all(), organization_ids), time_field="created_at",
                      key_field="status", now=now),
        incoming=_hourly(_scoped(IncomingWebhook.objects.all(), organization_ids), time_field="received_at",
                         key_field="status", now=now),
        deliveries=_hourly(_scoped(WebhookDelivery.objects.all(), organization_ids), time_field="created_at",
                           key_field="status", now=now),
        health_counts=dict(counts),
    )


def failing_endpoints(*, organization_ids: list[int] | None, limit: int = 20) -> list[WebhookEndpoint]:
    """Outgoing endpoints failing or disabled for failing, most recent trouble first (including org-wide ones)."""
    return list(_scoped(WebhookEndpoint.objects.filter(ENDPOINT_FAILING), organization_ids)
                .select_related("integration").defer("secret", "previous_secret")
                .order_by("-failing_since", "-updated_at")[:limit])

