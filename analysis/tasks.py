"""Background analyses. `run_analysis(run_id)` is the nudge after a run is queued (safe twice: the queued →
running update claims it); `run_daily_analyses` (beat, daily, and /api/cron/ai-analysis) queues each kind for
every organization with something to look at; `sweep_analyses` (beat every 5 minutes, /api/cron/sweep-analyses)
picks up what a dead worker or a lost nudge left: runs still queued, runs still running long after any run
ends (failed, so they can be retried), and accepted suggestions whose apply was interrupted
(analysis/decisions.py finishes them, applying nothing twice)."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.db.models import Q
from django.utils import timezone

from accounts.models import Organization

from . import decisions, services
from .models import AnalysisKind, AnalysisRun, RunStatus, Trigger

STALE_QUEUED = timedelta(minutes=10)
# Far past the longest run: the figures, one model call with the HTTP client's retries, one transaction.
STALE_RUNNING = timedelta(minutes=30)


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
    return {"started": started, "refused": refused}


@shared_task(ignore_result=True)
def sweep_analyses() -> dict[str, int]:
    now = timezone.now()
    abandoned = services.analysis_abandon_stale(older_than=STALE_RUNNING, now=now)
    stale = AnalysisRun.objects.filter(status=RunStatus.QUEUED, created_at__lt=now - STALE_QUEUED)
    ran = 0
    for run_id in stale.order_by("id").values_list("pk", flat=True)[:50]:
        ran += services.analysis_run(run_id) is not None
    recovered = decisions.suggestions_recover(now=now)
    return {"abandoned_runs": abandoned, "queued_runs_run": ran, **{f"suggestions_{k}": v
                                                                     for k, v in recovered.items()}}
