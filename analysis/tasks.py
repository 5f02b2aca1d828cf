"""Background analyses. `run_analysis(run_id)` is the nudge after a run is queued (safe twice: the queued →
running update claims it); `run_daily_analyses` (beat, daily, and /api/cron/ai-analysis) queues each kind for
every organization with something to look at, and runs any run a lost nudge left queued."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.db.models import Q
from django.utils import timezone

from accounts.models import Organization

from . import services
from .models import AnalysisKind, AnalysisRun, RunStatus, Trigger

STALE_QUEUED = timedelta(minutes=10)


@shared_task(ignore_result=True)
def run_analysis(run_id: int) -> str | None:
    run = services.analysis_run(run_id)
    return None if run is None else run.status


@shared_task(ignore_result=True)
def run_daily_analyses() -> dict[str, int]:
    started = refused = 0
    with_data = Organization.objects.filter(Q(products__isnull=False) | Q(campaigns__isnull=False))
    for organization in Organization.objects.filter(pk__in=with_data.values("pk")).order_by("id"):
        for kind in AnalysisKind.values:
            try:
                services.analysis_start(organization=organization, kind=kind, trigger=Trigger.SCHEDULE,
                                        actor_label="schedule")
                started += 1
            except services.TokenBudgetExceeded:
                refused += 1
    stale = AnalysisRun.objects.filter(status=RunStatus.QUEUED, created_at__lt=timezone.now() - STALE_QUEUED)
    for run_id in stale.values_list("pk", flat=True):
        services.analysis_run(run_id)
    return {"started": started, "refused": refused}
