"""What `/metrics` reports: cheap aggregates of the tables of record, read at scrape time.

Every figure comes from one aggregate query per table (eight at most, however
many rows or organizations there are), each restricted by an indexed condition
— the small live sets (pending, processing, retrying, running) and the rows of
the last METRICS_WINDOW_SECONDS — so a scrape never scans a whole history.
Counts "in the window" are gauges over that sliding window, not counters: graph
them as they are (no rate()). The latency distribution of provider calls is
such a gauge with an `le` label, so `histogram_quantile(0.95, sum by (le)
(switchyard_provider_calls_window_by_latency))` gives the window's p95.

Labels are bounded by design: statuses, job types, queues, provider keys from
the registry, status classes and latency buckets. Per-integration and
per-endpoint series are added only while the number of organizations is at most
METRICS_PER_INTEGRATION_MAX_ORGANIZATIONS (0, the default: never).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, F, Max, Min, Q, Sum
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from accounts.models import Organization
from events.models import InboundEvent, InboundEventStatus
from integrations.models import Integration, IntegrationLog, IntegrationStatus, LogDirection
from syncjobs.models import ACTIVE_STATUSES, FINISHED_STATUSES, JobStatus, SyncJob
from webhooks.models import DeliveryStatus, IncomingStatus, IncomingWebhook, WebhookDelivery, WebhookEndpoint

from .queues import queue_lengths

logger = logging.getLogger(__name__)

PREFIX = "switchyard_"
LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)  # seconds
STATUS_CLASSES = {"2xx": (200, 300), "3xx": (300, 400), "4xx": (400, 500), "5xx": (500, 600)}
NO_PROVIDER = "none"


def _gauge(name: str, documentation: str, labels: list[str] | None = None) -> GaugeMetricFamily:
    return GaugeMetricFamily(PREFIX + name, documentation, labels=labels)


def _age(oldest: datetime | None, now: datetime) -> float:
    """Seconds since `oldest` (0 when there is none, or it is still in the future)."""
    return max((now - oldest).total_seconds(), 0.0) if oldest else 0.0


def _count(field: str = "pk", **conditions) -> Count:
    return Count(field, filter=Q(**conditions))


def _work_queue(model, now: datetime, since: datetime, *, stamp: str, statuses, live, due,
                backlog: GaugeMetricFamily, window: GaugeMetricFamily, oldest: GaugeMetricFamily) -> list[Metric]:
    """A table that is a work queue (rows with a status and a next_attempt_at), in one aggregate query: its
    backlog by live status, what arrived in the window (`stamp` since then) by current status, and how long the
    longest-waiting due row has waited, into the three gauges the caller names."""
    recent = {f"{stamp}__gte": since}
    row = model.objects.filter(Q(status__in=live) | Q(**recent)).aggregate(
        oldest_due=Min("next_attempt_at", filter=Q(status__in=due, next_attempt_at__lte=now)),
        **{f"live_{s}": _count(status=s) for s in live},
        **{f"window_{s}": _count(status=s, **recent) for s in statuses},
    )
    for status in live:
        backlog.add_metric([status], row[f"live_{status}"])
    for status in statuses:
        window.add_metric([status], row[f"window_{status}"])
    oldest.add_metric([], _age(row["oldest_due"], now))
    return [backlog, window, oldest]


def per_integration_labels() -> bool:
    """Whether per-integration and per-endpoint series are allowed: the setting permits them and the organizations
    are at most that many (one COUNT, only when the setting is on)."""
    limit = settings.METRICS_PER_INTEGRATION_MAX_ORGANIZATIONS
    return limit > 0 and Organization.objects.count() <= limit


class SwitchyardCollector(Collector):
    """Collects every series at scrape time. `describe()` is empty so registering it queries nothing."""

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        now = timezone.now()
        since = now - timedelta(seconds=settings.METRICS_WINDOW_SECONDS)
        window = _gauge("metrics_window_seconds", "Length of the sliding window the *_window series count over.")
        window.add_metric([], settings.METRICS_WINDOW_SECONDS)
        yield window
        detailed = per_integration_labels()
        yield from self.incoming_webhooks(now, since)
        yield from self.inbound_events(now, since)
        yield from self.deliveries(now, since)
        yield from self.endpoints(now, detailed=detailed)
        yield from self.sync_jobs(since)
        yield from self.provider_calls(since)
        yield from self.integrations(now, detailed=detailed)
        yield from self.queues()

    # ---------------------------------------------------------------- incoming webhooks, consumed events, deliveries
    def incoming_webhooks(self, now: datetime, since: datetime) -> Iterator[Metric]:
        return _work_queue(
            IncomingWebhook, now, since, stamp="received_at", statuses=IncomingStatus.values,
            live=(IncomingStatus.PENDING, IncomingStatus.PROCESSING), due=(IncomingStatus.PENDING,),
            backlog=_gauge("incoming_webhooks_backlog",
                           "Provider webhooks stored and not finished, by status.", ["status"]),
            window=_gauge("incoming_webhooks_window",
                          "Provider webhooks received in the window, by current status.", ["status"]),
            oldest=_gauge("incoming_webhook_oldest_due_seconds",
                          "How long the longest-waiting due pending webhook has waited (0: none)."))

    def inbound_events(self, now: datetime, since: datetime) -> Iterator[Metric]:
        return _work_queue(
            InboundEvent, now, since, stamp="received_at", statuses=InboundEventStatus.values,
            live=(InboundEventStatus.PENDING, InboundEventStatus.PROCESSING), due=(InboundEventStatus.PENDING,),
            backlog=_gauge("inbound_events_backlog",
                           "Events from the organizations' services not finished, by status.", ["status"]),
            window=_gauge("inbound_events_window", "Events received in the window, by current status.", ["status"]),
            oldest=_gauge("inbound_event_oldest_due_seconds",
                          "How long the longest-waiting due pending event has waited (0: none)."))

    def deliveries(self, now: datetime, since: datetime) -> Iterator[Metric]:
        live = (DeliveryStatus.PENDING, DeliveryStatus.RETRYING)
        return _work_queue(
            WebhookDelivery, now, since, stamp="created_at", statuses=DeliveryStatus.values, live=live, due=live,
            backlog=_gauge("webhook_deliveries_backlog",
                           "Outgoing deliveries waiting to be sent, by status.", ["status"]),
            window=_gauge("webhook_deliveries_window",
                          "Outgoing deliveries created in the window, by current status.", ["status"]),
            oldest=_gauge("webhook_delivery_oldest_due_seconds",
                          "How long the longest-waiting due delivery has waited past its send time (0: none)."))

    def endpoints(self, now: datetime, *, detailed: bool) -> Iterator[Metric]:
        """Endpoints are a handful per organization: one aggregate, and per-endpoint series only when allowed."""
        row = WebhookEndpoint.objects.aggregate(
            active=_count(is_active=True), disabled=_count(is_active=False),
            failing=_count(is_active=True, failing_since__isnull=False),
            failing_since=Min("failing_since", filter=Q(is_active=True)),
        )
        states = _gauge("webhook_endpoints", "Outgoing webhook endpoints: active, failing (active, no success since "
                                             "a failure) and disabled.", ["state"])
        for state in ("active", "failing", "disabled"):
            states.add_metric([state], row[state])
        streak = _gauge("webhook_endpoint_longest_failure_seconds",
                        "The longest current failure streak of an active endpoint, in seconds (0: none failing).")
        streak.add_metric([], _age(row["failing_since"], now))
        yield from (states, streak)
        if detailed:
            each = _gauge("webhook_endpoint_failing_seconds", "How long each failing active endpoint has failed.",
                          ["organization", "endpoint"])
            failing = (WebhookEndpoint.objects.filter(is_active=True, failing_since__isnull=False)
                       .values_list("organization__slug", "pk", "failing_since"))
            for organization, pk, since in failing:
                each.add_metric([organization, str(pk)], _age(since, now))
            yield each

    # ---------------------------------------------------------------- syncs
    def sync_jobs(self, since: datetime) -> Iterator[Metric]:
        rows = (
            SyncJob.objects.filter(Q(status__in=ACTIVE_STATUSES)
                                   | Q(status__in=FINISHED_STATUSES, completed_at__gte=since))
            .values("job_type").order_by()
            .annotate(
                **{f"live_{s}": _count(status=s) for s in ACTIVE_STATUSES},
                **{f"done_{s}": _count(status=s, completed_at__gte=since) for s in FINISHED_STATUSES},
                records=Sum("records_processed", filter=Q(status=JobStatus.COMPLETED, completed_at__gte=since)),
            )
        )
        active = _gauge("sync_jobs_active", "Sync jobs pending or running, by job type.", ["job_type", "status"])
        finished = _gauge("sync_jobs_finished_window", "Sync jobs that finished in the window, by job type and "
                                                      "outcome.", ["job_type", "status"])
        throughput = _gauge("sync_records_per_second", "Records processed per second by the sync jobs that "
                                                      "completed in the window, by job type.", ["job_type"])
        window = settings.METRICS_WINDOW_SECONDS
        for row in rows:
            job_type = row["job_type"]
            for status in ACTIVE_STATUSES:
                active.add_metric([job_type, status], row[f"live_{status}"])
            for status in FINISHED_STATUSES:
                finished.add_metric([job_type, status], row[f"done_{status}"])
            throughput.add_metric([job_type], (row["records"] or 0) / window)
        yield from (active, finished, throughput)

    # ---------------------------------------------------------------- provider calls
    def provider_calls(self, since: datetime) -> Iterator[Metric]:
        classes = {name: Q(status_code__gte=low, status_code__lt=high) for name, (low, high) in STATUS_CLASSES.items()}
        errored = Q(status_code__isnull=True) | Q(status_code__lt=200) | Q(status_code__gte=600)
        rows = (
            IntegrationLog.objects.filter(created_at__gte=since, direction=LogDirection.OUTBOUND)
            .values(provider=F("integration__provider"))
            .order_by()
            .annotate(
                total=Count("pk"),
                errored=Count("pk", filter=errored),
                total_ms=Sum("duration_ms"),
                timed=Count("duration_ms"),
                **{f"class_{name}": Count("pk", filter=q) for name, q in classes.items()},
                **{f"le_{i}": Count("pk", filter=Q(duration_ms__lte=bound * 1000))
                   for i, bound in enumerate(LATENCY_BUCKETS)},
            )
        )
        calls = _gauge("provider_calls_window", "Provider calls logged in the window, by provider and status class "
                                                "(error: no HTTP answer).",
                       ["provider", "status_class"])
        latency = _gauge("provider_calls_window_by_latency", "Provider calls in the window that took at most `le` "
                                                             "seconds (cumulative, like a histogram's buckets).",
                         ["provider", "le"])
        seconds = _gauge("provider_call_seconds_window", "Total seconds the window's timed provider calls took.",
                         ["provider"])
        for row in rows:
            provider = row["provider"] or NO_PROVIDER
            for name in STATUS_CLASSES:
                calls.add_metric([provider, name], row[f"class_{name}"])
            calls.add_metric([provider, "error"], row["errored"])
            for i, bound in enumerate(LATENCY_BUCKETS):
                latency.add_metric([provider, str(bound)], row[f"le_{i}"])
            latency.add_metric([provider, "+Inf"], row["timed"])
            seconds.add_metric([provider], (row["total_ms"] or 0) / 1000)
        yield from (calls, latency, seconds)

    # ---------------------------------------------------------------- integrations and their tokens
    def integrations(self, now: datetime, *, detailed: bool) -> Iterator[Metric]:
        rows = (
            Integration.objects.values("provider", "status").order_by()
            .annotate(n=Count("pk"), soonest=Min("expires_at"), latest=Max("expires_at"),
                      expired=_count(expires_at__lte=now))
        )
        counts = _gauge("integrations", "Integrations by provider and status.", ["provider", "status"])
        horizon = _gauge("oauth_token_expiry_seconds", "Seconds until the soonest access token of an active "
                                                       "integration expires (negative: already expired), by provider.",
                         ["provider"])
        expired = _gauge("oauth_tokens_expired", "Active integrations whose access token has expired, by provider.",
                         ["provider"])
        soonest: dict[str, datetime] = {}
        for row in rows:
            counts.add_metric([row["provider"], row["status"]], row["n"])
            if row["status"] == IntegrationStatus.ACTIVE and row["soonest"] is not None:
                soonest[row["provider"]] = row["soonest"]
                expired.add_metric([row["provider"]], row["expired"])
        for provider, when in sorted(soonest.items()):
            horizon.add_metric([provider], (when - now).total_seconds())
        yield from (counts, horizon, expired)
        if detailed:
            failures = _gauge("integration_consecutive_failures", "Consecutive failed syncs or health checks of each "
                                                                  "integration.", ["organization", "integration"])
            up = _gauge("integration_up", "1 while the integration is active, else 0.",
                        ["organization", "integration"])
            for slug, code, status, failed in Integration.objects.values_list(
                    "organization__slug", "code", "status", "consecutive_failures"):
                failures.add_metric([slug, code], failed)
                up.add_metric([slug, code], 1 if status == IntegrationStatus.ACTIVE else 0)
            yield from (failures, up)

    # ---------------------------------------------------------------- celery queues
    def queues(self) -> Iterator[Metric]:
        """Messages waiting in each Celery queue on Redis (LLEN; priority sub-queues included). Nothing without
        Redis: the embedded filesystem broker has no cheap length."""
        if not settings.REDIS_URL:
            return
        lengths = queue_lengths()
        up = _gauge("broker_up", "1 when Redis (the Celery broker) answered this scrape.")
        up.add_metric([], 0 if lengths is None else 1)
        yield up
        if lengths is not None:
            queue = _gauge("celery_queue_length", "Messages waiting in each Celery queue.", ["queue"])
            for name, length in sorted(lengths.items()):
                queue.add_metric([name], length)
            yield queue
