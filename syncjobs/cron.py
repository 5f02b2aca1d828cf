"""`POST /api/cron/{job}/`: the periodic jobs for platforms that cannot run beat (a platform cron calls this).

The jobs are connectors.registry.periodic_jobs() (config.beat.PERIODIC_JOBS and each
provider's) — the list beat's schedules are made from — one per beat task, named by its slug, plus a few on-demand ones:
`sync-orders` / `sync-inventory` (a job of that type for every active auto-sync
integration, due or not) and `purge-logs` (both purges, the name older
deployments call) and `check-health` (every integration's connection now: on
the clock, health checks follow each integration's schedule, which
run-due-syncs starts). `run-all`, for a platform with a single cron entry (call it
every minute), runs each periodic job whose schedule is due: the same
django-celery-beat PeriodicTask rows beat runs from (interval, enabled and
kwargs as operators set them in the admin), their `last_run_at` taken by a
conditional update so that two overlapping calls — or a call and beat — do not
both run a job in the same period. A job whose PeriodicTask was disabled or
deleted is reported under `unscheduled` and not run.

Authorized by `Authorization: Bearer <CRON_SECRET>`, compared in constant
time; with CRON_SECRET unset every call is refused. The view only enqueues
Celery tasks, by name, and answers 202 with what it sent: the work happens in a
worker, as it would under beat, so a slow provider never holds the platform's
cron request. A task whose app is not installed is reported under
`unavailable`; a job none of whose tasks exist is 503.
"""

from __future__ import annotations

import hmac
import json
from datetime import datetime, timedelta

from celery import current_app
from django.conf import settings
from django.db.models import F
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import ErrorResponseSerializer
from config.beat import periodic_task_expiry
from config.errors import ApplicationError, NotFound
from connectors.registry import periodic_jobs

from .models import JobType

RUN_ALL = "run-all"
_SYNC_ORDERS = ("syncjobs.tasks.start_resource_syncs", {"job_type": JobType.SYNC_ORDERS.value})
_SYNC_INVENTORY = ("syncjobs.tasks.start_resource_syncs", {"job_type": JobType.SYNC_INVENTORY.value})
PERIODIC_JOBS = periodic_jobs()  # the product's and the providers' (connectors.registry.periodic_jobs)
_PERIODIC = {job.slug: job.task for job in PERIODIC_JOBS}
# On-demand jobs: not on beat's clock (run-all does not run them).
ON_DEMAND: dict[str, list[tuple[str, dict]]] = {
    "sync-orders": [_SYNC_ORDERS],
    "sync-inventory": [_SYNC_INVENTORY],
    "purge-logs": [(_PERIODIC["purge-call-logs"], {}), (_PERIODIC["purge-finished-jobs"], {})],
    # Every active (or erroring) integration now; on the clock, each integration's health schedule (run-due-syncs).
    "check-health": [("syncjobs.tasks.check_integrations_health", {})],
}
# job → [(task name, kwargs)]. The names are the tasks' stable names; beat's periodic tasks use the same.
CRON_JOBS: dict[str, list[tuple[str, dict]]] = {
    **{job.slug: [(job.task, {})] for job in PERIODIC_JOBS},
    **ON_DEMAND,
    RUN_ALL: [(job.task, {}) for job in PERIODIC_JOBS],
}


class CronNotAuthenticated(ApplicationError):
    code = "NOT_AUTHENTICATED"
    http_status = status.HTTP_401_UNAUTHORIZED
    default_message = "A valid `Authorization: Bearer <CRON_SECRET>` header is required."


class CronJobUnavailable(ApplicationError):
    code = "CRON_JOB_UNAVAILABLE"
    http_status = status.HTTP_503_SERVICE_UNAVAILABLE
    default_message = "The tasks of this job are not installed."


def cron_authorized(header: str) -> bool:
    secret = settings.CRON_SECRET
    scheme, _, token = header.partition(" ")
    if not secret or scheme.lower() != "bearer" or not token:
        return False
    return hmac.compare_digest(token.strip().encode(), secret.encode())


def _send(name: str, kwargs: dict, row: PeriodicTask | None) -> None:
    """Enqueue, expiring as beat's message would (config/beat.py): a cron calling while workers are down
    must not leave them hours of stale copies either."""
    expires = periodic_task_expiry(row) if row is not None else None
    current_app.tasks[name].apply_async(kwargs=kwargs, **({"expires": expires} if expires is not None else {}))


def _schedules(task_names: list[str]) -> dict[str, PeriodicTask]:
    """The PeriodicTask row of each task (the oldest, should an operator have made two)."""
    rows = PeriodicTask.objects.filter(task__in=task_names).select_related("interval").order_by("-pk")
    return {row.task: row for row in rows}


def _kwargs(row: PeriodicTask | None) -> dict:
    try:
        value = json.loads(row.kwargs or "{}") if row is not None else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def periodic_task_due(row: PeriodicTask, now: datetime) -> bool:
    """Whether beat would run the task now: never run, or its interval (crontab…) elapsed since it last ran."""
    if row.last_run_at is None:
        return True
    if row.interval is not None:
        return row.last_run_at + timedelta(**{row.interval.period: row.interval.every}) <= now
    return bool(row.schedule.is_due(row.last_run_at)[0])


def _take(row: PeriodicTask, now: datetime) -> bool:
    """Record the run on the row, only if nobody recorded one since we read it (a concurrent call, or beat)."""
    unchanged = ({"last_run_at__isnull": True} if row.last_run_at is None else {"last_run_at": row.last_run_at})
    return bool(PeriodicTask.objects.filter(pk=row.pk, **unchanged).update(
        last_run_at=now, total_run_count=F("total_run_count") + 1))


def cron_run(*, job: str) -> dict:
    """Enqueue the job's tasks: {"job", "enqueued", "unavailable", "not_due", "unscheduled"} (task names)."""
    if job not in CRON_JOBS:
        raise NotFound(f"Unknown cron job {job!r}.", details={"jobs": sorted(CRON_JOBS)})
    current_app.loader.import_default_modules()
    if job == RUN_ALL:
        return _run_due()
    now = timezone.now()
    rows = _schedules([name for name, _ in CRON_JOBS[job]])
    enqueued, unavailable = [], []
    for name, kwargs in CRON_JOBS[job]:
        if name not in current_app.tasks:
            unavailable.append(name)
            continue
        _send(name, kwargs or _kwargs(rows.get(name)), rows.get(name))
        enqueued.append(name)
        if name in rows:  # run-all and beat count this run
            PeriodicTask.objects.filter(pk=rows[name].pk).update(
                last_run_at=now, total_run_count=F("total_run_count") + 1)
    if not enqueued:
        raise CronJobUnavailable(details={"unavailable": unavailable})
    return {"job": job, "enqueued": enqueued, "unavailable": unavailable, "not_due": [], "unscheduled": []}


def _run_due() -> dict:
    now = timezone.now()
    rows = _schedules([job.task for job in PERIODIC_JOBS])
    enqueued, unavailable, not_due, unscheduled = [], [], [], []
    for job in PERIODIC_JOBS:
        row = rows.get(job.task)
        if row is None or not row.enabled:
            unscheduled.append(job.task)
        elif job.task not in current_app.tasks:
            unavailable.append(job.task)
        elif not periodic_task_due(row, now) or not _take(row, now):
            not_due.append(job.task)
        else:
            _send(job.task, _kwargs(row), row)
            enqueued.append(job.task)
    if unavailable and not (enqueued or not_due or unscheduled):
        raise CronJobUnavailable(details={"unavailable": unavailable})
    return {"job": RUN_ALL, "enqueued": enqueued, "unavailable": unavailable, "not_due": not_due,
            "unscheduled": unscheduled}


class _CronResultSerializer(serializers.Serializer):
    job = serializers.CharField()
    enqueued = serializers.ListField(child=serializers.CharField())
    unavailable = serializers.ListField(child=serializers.CharField(), help_text="Tasks of apps not installed.")
    not_due = serializers.ListField(
        child=serializers.CharField(),
        help_text="run-all: tasks whose schedule has not come round since they last ran (by beat or cron).")
    unscheduled = serializers.ListField(
        child=serializers.CharField(), help_text="run-all: tasks whose periodic task is disabled or deleted.")


class CronView(APIView):
    authentication_classes: list = []  # the bearer secret is the only credential
    permission_classes: list = []

    @extend_schema(
        summary="Run a periodic job (platforms without beat)",
        description="Periodic jobs (beat's, one each): " + ", ".join(job.slug for job in PERIODIC_JOBS)
        + ". On demand: " + ", ".join(ON_DEMAND) + ". `run-all` runs each periodic job whose schedule is due "
        "(call it every minute). Authorization: `Bearer <CRON_SECRET>`.",
        request=None,
        auth=[],
        responses={
            202: _CronResultSerializer,
            401: OpenApiResponse(ErrorResponseSerializer, description="NOT_AUTHENTICATED: missing or wrong secret."),
            404: OpenApiResponse(ErrorResponseSerializer, description="NOT_FOUND: no such job."),
            503: OpenApiResponse(ErrorResponseSerializer, description="CRON_JOB_UNAVAILABLE."),
        },
    )
    def post(self, request: Request, job: str) -> Response:
        if not cron_authorized(request.headers.get("Authorization", "")):
            raise CronNotAuthenticated()
        return Response(cron_run(job=job), status=status.HTTP_202_ACCEPTED)
