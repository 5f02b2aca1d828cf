"""Writes to the per-integration schedules: make each integration's rows, edit one, move one on after its job.

The rows come from the cadence table (cadences.py), never typed in: `schedules_ensure` gives every integration one
row per cadence its provider can run, with the table's default interval, and removes the rows of job types its
provider no longer runs; it runs when an integration is created (post_save) and after every `migrate`
(post_migrate), so a job type added to the table reaches existing integrations with the deploy that adds it.

`Integration.next_sync_at` stays what the API, the list and the health rules read ("the next scheduled sync"): the
earliest `next_due_at` of the integration's enabled sync schedules, rewritten by every change here
(`integration_next_sync_refresh`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Count, Min, Q
from django.utils import timezone

from config.errors import ValidationError
from integrations.models import Integration

from .cadences import CADENCES, SYNC_JOB_TYPES, cadences_for
from .models import MAX_EVERY_MINUTES, SyncJob, SyncSchedule


def schedules_ensure(integrations: Iterable[Integration] | None = None) -> int:
    """Create the missing schedule rows (defaults from the cadence table, due now) of `integrations` (all when
    None), and delete rows of job types their provider does not run. Returns how many rows it created.

    A few queries however many integrations: the rows there are read at once, the missing ones written in bulk.
    """
    chosen = list(Integration.objects.only("pk", "provider") if integrations is None else integrations)
    rows = SyncSchedule.objects.all() if integrations is None else SyncSchedule.objects.filter(
        integration_id__in=[integration.pk for integration in chosen])
    have: dict[int, set[str]] = defaultdict(set)
    for integration_id, job_type in rows.values_list("integration_id", "job_type"):
        have[integration_id].add(job_type)
    wanted_by_provider: dict[str, dict] = {}
    missing, touched = [], set()
    for integration in chosen:
        if integration.provider not in wanted_by_provider:
            wanted_by_provider[integration.provider] = {c.job_type: c for c in cadences_for(integration.provider)}
        wanted, existing = wanted_by_provider[integration.provider], have[integration.pk]
        missing += [SyncSchedule(integration_id=integration.pk, job_type=key, every_minutes=cadence.every_minutes)
                    for key, cadence in wanted.items() if key not in existing]
        stale = existing - set(wanted)
        if stale:
            SyncSchedule.objects.filter(integration_id=integration.pk, job_type__in=stale).delete()
        if stale or not existing >= set(wanted):
            touched.add(integration.pk)
    # ignore_conflicts: a concurrent ensure (two processes migrating, a save racing a migrate) made some first
    SyncSchedule.objects.bulk_create(missing, ignore_conflicts=True, batch_size=1000)
    for integration_id in touched:
        integration_next_sync_refresh(integration_id)
    return len(missing)


def schedule_list(*, integration: Integration) -> list[SyncSchedule]:
    """The integration's schedules in the cadence table's order (products, inventory, orders…)."""
    order = {key: index for index, key in enumerate(CADENCES)}
    rows = SyncSchedule.objects.filter(integration=integration).select_related("last_job")
    return sorted(rows, key=lambda row: (order.get(row.job_type, len(order)), row.pk))


def schedule_next_due(schedule: SyncSchedule, *, since: datetime | None, now: datetime) -> datetime | None:
    """When a schedule with this interval is next due: its interval after `since` (when its clock last started),
    or now if it has none (it never ran) or that moment has passed."""
    if since is None:
        return None
    due = since + timedelta(minutes=schedule.every_minutes)
    return due if due > now else now


@transaction.atomic
def schedule_update(*, schedule: SyncSchedule, every_minutes: int | None = None, enabled: bool | None = None,
                    due_now: bool = False, now: datetime | None = None) -> SyncSchedule:
    """Change a schedule's interval and/or switch it on or off.

    A new interval moves the next due time to that interval after the clock last started (its last start, or
    its job's finish; now, if that has passed, or if it never ran): shortening "every 6 h" to "every hour" takes
    effect at once, not after the old 6 h. Switching it on makes it due by the same rule. VALIDATION_ERROR
    (nothing changed) for an interval outside 1 minute to a week.
    """
    now = now or timezone.now()
    if every_minutes is not None and not 1 <= every_minutes <= MAX_EVERY_MINUTES:
        raise ValidationError(details={"every_minutes": [f"Between 1 and {MAX_EVERY_MINUTES} minutes."]})
    locked = SyncSchedule.objects.select_for_update().get(pk=schedule.pk)
    # When its clock last started (its last start, or its job's finish): one interval before its next due time.
    since = locked.next_due_at - timedelta(minutes=locked.every_minutes) if locked.next_due_at else None
    changed_interval = every_minutes is not None and every_minutes != locked.every_minutes
    switched_on = enabled is True and not locked.enabled
    if every_minutes is not None:
        locked.every_minutes = every_minutes
    if enabled is not None:
        locked.enabled = enabled
    if due_now:
        locked.next_due_at = None
    elif changed_interval or switched_on:
        locked.next_due_at = schedule_next_due(locked, since=since, now=now)
    locked.save(update_fields=["every_minutes", "enabled", "next_due_at", "updated_at"])
    integration_next_sync_refresh(locked.integration_id)
    return locked


def schedule_job_finished(*, job: SyncJob, now: datetime) -> None:
    """A job of a scheduled type finished (completed or failed, whoever started it): its schedule waits a full
    interval from now, so a long sync is not followed at once by the next, and the data a manual sync just
    fetched is not fetched again. Runs in the caller's transaction."""
    schedule = SyncSchedule.objects.select_for_update().filter(integration_id=job.integration_id,
                                                               job_type=job.job_type).first()
    if schedule is None:
        return
    schedule.next_due_at = now + timedelta(minutes=schedule.every_minutes)
    schedule.save(update_fields=["next_due_at", "updated_at"])
    integration_next_sync_refresh(job.integration_id)


def integration_next_sync_refresh(integration_id: int) -> None:
    """`Integration.next_sync_at` = the earliest next due time of its enabled sync schedules (None when none is
    enabled; a schedule never run counts as due at its creation, i.e. now)."""
    enabled = SyncSchedule.objects.filter(integration_id=integration_id, enabled=True, job_type__in=SYNC_JOB_TYPES)
    found = enabled.aggregate(at=Min("next_due_at"), never=Count("pk", filter=Q(next_due_at__isnull=True)))
    earliest = timezone.now() if found["never"] else found["at"]
    Integration.objects.filter(pk=integration_id).update(next_sync_at=earliest)
