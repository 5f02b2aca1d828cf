"""The admin dashboard's reads: one health row per integration and the last 24 hours as hourly series.

Everything here is a bounded number of aggregate queries, whatever the number
of integrations: the integrations with their last job as correlated subqueries
(one query, each subquery an index probe on syncjob_integration_created), then
one GROUP BY per source (calls, incoming webhooks, outgoing endpoints) keyed by
integration, and one GROUP BY hour per chart. No per-integration query (N+1).

Scope: `organization_ids` is the list of organizations the operator may see;
None means every organization (a superuser).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import TruncHour
from django.utils import timezone

from integrations.models import Integration, IntegrationLog, IntegrationStatus
from syncjobs.models import JobStatus, SyncJob
from webhooks.models import DeliveryStatus, IncomingStatus, IncomingWebhook, WebhookDelivery, WebhookEndpoint

WINDOW = timedelta(hours=24)
# A dashboard lists at most this many integrations (a superuser of a large installation has thousands).
ROW_LIMIT = 200
# Calls failing above this share (with at least MIN_CALLS calls) make an integration degraded.
ERROR_RATE_DEGRADED = 0.05
MIN_CALLS = 5


class Health:
    OK = "ok"
    DEGRADED = "degraded"
    ERROR = "error"
    REAUTH = "needs_reauth"
    OFF = "inactive"

    LABELS = {OK: "OK", DEGRADED: "Degraded", ERROR: "Error", REAUTH: "Needs re-auth", OFF: "Inactive"}


@dataclass
class IntegrationHealth:
    integration: Integration
    health: str
    reasons: list[str]
    last_job_id: int | None
    last_job_status: str | None
    last_job_type: str | None
    running_job_id: int | None
    calls: int
    call_errors: int
    webhooks_pending: int
    webhooks_failed: int
    endpoints_failing: int

    @property
    def health_label(self) -> str:
        return Health.LABELS[self.health]

    @property
    def error_rate(self) -> float | None:
        return self.call_errors / self.calls if self.calls else None


@dataclass
class Series:
    """Hourly buckets (oldest first) with a count per key, e.g. {"completed": 3, "failed": 1}."""

    hours: list[datetime]
    values: dict[str, list[int]] = field(default_factory=dict)

    def total(self, key: str) -> int:
        return sum(self.values.get(key, []))


@dataclass
class Dashboard:
    rows: list[IntegrationHealth]
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
) -> tuple[list[IntegrationHealth], int]:
    """The health rows of the integrations in scope (at most `limit`) and how many more there are."""
    now = now or timezone.now()
    since = now - WINDOW
    jobs = SyncJob.objects.filter(integration=OuterRef("pk")).order_by("-created_at", "-id")
    integrations = list(
        _scoped(Integration.objects.all(), organization_ids)
        .select_related("organization")
        .defer(*("api_key", "api_secret", "webhook_secret", "access_token", "refresh_token", "credentials"))
        .annotate(
            last_job_id=Subquery(jobs.values("id")[:1]),
            last_job_status=Subquery(jobs.values("status")[:1]),
            last_job_type=Subquery(jobs.values("job_type")[:1]),
            running_job_id=Subquery(jobs.filter(status__in=(JobStatus.PENDING, JobStatus.RUNNING)).values("id")[:1]),
        )
        .order_by("organization__name", "name", "pk")[: limit + 1]
    )
    more = 0
    if len(integrations) > limit:
        integrations = integrations[:limit]
        more = _scoped(Integration.objects.all(), organization_ids).count() - limit
    ids = [i.pk for i in integrations]

    calls: dict[int, tuple[int, int]] = {}
    webhooks: dict[int, dict[str, int]] = defaultdict(dict)
    failing: dict[int, int] = {}
    if ids:
        error = Q(status_code__gte=400) | ~Q(error_message="")
        for row in (IntegrationLog.objects.filter(integration_id__in=ids, created_at__gte=since).order_by()
                    .values("integration_id").annotate(total=Count("pk"), errors=Count("pk", filter=error))):
            calls[row["integration_id"]] = (row["total"], row["errors"])
        for row in (IncomingWebhook.objects.filter(integration_id__in=ids,
                                                   status__in=(IncomingStatus.PENDING, IncomingStatus.FAILED))
                    .order_by().values("integration_id", "status").annotate(n=Count("pk"))):
            webhooks[row["integration_id"]][row["status"]] = row["n"]
        bad = Q(failing_since__isnull=False) | Q(is_active=False, disabled_reason__gt="")
        for row in (WebhookEndpoint.objects.filter(bad, integration_id__in=ids).order_by()
                    .values("integration_id").annotate(n=Count("pk"))):
            failing[row["integration_id"]] = row["n"]

    rows = []
    for integration in integrations:
        total, errors = calls.get(integration.pk, (0, 0))
        pending = webhooks[integration.pk].get(IncomingStatus.PENDING, 0)
        failed = webhooks[integration.pk].get(IncomingStatus.FAILED, 0)
        health, reasons = _health(integration, total=total, errors=errors, webhooks_failed=failed,
                                  endpoints_failing=failing.get(integration.pk, 0), now=now)
        rows.append(IntegrationHealth(
            integration=integration, health=health, reasons=reasons,
            last_job_id=integration.last_job_id, last_job_status=integration.last_job_status,
            last_job_type=integration.last_job_type, running_job_id=integration.running_job_id,
            calls=total, call_errors=errors, webhooks_pending=pending, webhooks_failed=failed,
            endpoints_failing=failing.get(integration.pk, 0),
        ))
    return rows, more


def _health(integration: Integration, *, total: int, errors: int, webhooks_failed: int, endpoints_failing: int,
            now: datetime) -> tuple[str, list[str]]:
    """The light and why: needs re-auth > error > degraded > ok; an inactive integration is off."""
    if integration.status == IntegrationStatus.PENDING_AUTH:
        return Health.REAUTH, ["waiting for a reconnect (OAuth)"]
    if integration.status == IntegrationStatus.INACTIVE:
        return Health.OFF, ["switched off"]
    if integration.status == IntegrationStatus.ERROR:
        return Health.ERROR, [integration.last_error[:200] or "in error after repeated failures"]
    reasons = []
    if integration.consecutive_failures:
        reasons.append(f"{integration.consecutive_failures} failure(s) in a row")
    if integration.last_job_status == JobStatus.FAILED:
        reasons.append("last sync failed")
    if total >= MIN_CALLS and errors / total > ERROR_RATE_DEGRADED:
        reasons.append(f"{100 * errors / total:.0f}% of calls failed in 24 h")
    if webhooks_failed:
        reasons.append(f"{webhooks_failed} incoming webhook(s) failed")
    if endpoints_failing:
        reasons.append(f"{endpoints_failing} outgoing endpoint(s) failing")
    if integration.next_sync_at and integration.auto_sync_enabled and integration.next_sync_at < now - WINDOW / 24:
        reasons.append("scheduled sync overdue")
    return (Health.DEGRADED if reasons else Health.OK), reasons


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
    bad = Q(failing_since__isnull=False) | Q(is_active=False, disabled_reason__gt="")
    return list(_scoped(WebhookEndpoint.objects.filter(bad), organization_ids)
                .select_related("integration").defer("secret", "previous_secret")
                .order_by("-failing_since", "-updated_at")[:limit])

