"""`POST /api/cron/{job}/`: the periodic tasks for platforms that cannot run beat (a platform cron calls this).

Authorized by `Authorization: Bearer <CRON_SECRET>`, compared in constant
time; with CRON_SECRET unset every call is refused. The view only enqueues
Celery tasks, by name, and answers 202 with what it sent: the work happens in
a worker, as it would under beat, so a slow provider never holds the
platform's cron request. A task whose app is not installed is reported under
`unavailable`; a job none of whose tasks exist is 503.
"""

from __future__ import annotations

import hmac

from celery import current_app
from django.conf import settings
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import ErrorResponseSerializer
from config.errors import ApplicationError, NotFound

from .models import JobType

# job → [(task name, kwargs)]. The names are the tasks' stable names; beat's periodic tasks use the same.
_SYNC_ORDERS = ("syncjobs.tasks.start_resource_syncs", {"job_type": JobType.SYNC_ORDERS.value})
_SYNC_INVENTORY = ("syncjobs.tasks.start_resource_syncs", {"job_type": JobType.SYNC_INVENTORY.value})
_REFRESH_TOKENS = ("integrations.tasks.refresh_expiring_tokens", {})
_SWEEP_WEBHOOKS = ("webhooks.inbound.tasks.sweep_incoming_webhooks", {})
_DISPATCH = ("webhooks.tasks.dispatch_due_deliveries", {})
_PURGE = [("integrations.tasks.purge_integration_logs", {}), ("syncjobs.tasks.purge_finished_jobs", {})]
CRON_JOBS: dict[str, list[tuple[str, dict]]] = {
    "sync-orders": [_SYNC_ORDERS],
    "sync-inventory": [_SYNC_INVENTORY],
    "refresh-tokens": [_REFRESH_TOKENS],
    "sweep-webhooks": [_SWEEP_WEBHOOKS],
    "dispatch-deliveries": [_DISPATCH],
    "purge-logs": _PURGE,
    # Everything beat would run, for a platform with a single cron entry (call it every minute).
    "run-all": [("syncjobs.tasks.run_due_syncs", {}), _REFRESH_TOKENS, _SWEEP_WEBHOOKS, _DISPATCH, *_PURGE],
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


def _send(name: str, kwargs: dict) -> None:
    current_app.tasks[name].apply_async(kwargs=kwargs)


def cron_run(*, job: str) -> dict:
    """Enqueue the job's tasks; {"job", "enqueued": [names], "unavailable": [names]}."""
    if job not in CRON_JOBS:
        raise NotFound(f"Unknown cron job {job!r}.", details={"jobs": sorted(CRON_JOBS)})
    current_app.loader.import_default_modules()
    enqueued, unavailable = [], []
    for name, kwargs in CRON_JOBS[job]:
        if name not in current_app.tasks:
            unavailable.append(name)
            continue
        _send(name, kwargs)
        enqueued.append(name)
    if not enqueued:
        raise CronJobUnavailable(details={"unavailable": unavailable})
    return {"job": job, "enqueued": enqueued, "unavailable": unavailable}


class _CronResultSerializer(serializers.Serializer):
    job = serializers.CharField()
    enqueued = serializers.ListField(child=serializers.CharField())
    unavailable = serializers.ListField(child=serializers.CharField(), help_text="Tasks of apps not installed.")


class CronView(APIView):
    authentication_classes: list = []  # the bearer secret is the only credential
    permission_classes: list = []

    @extend_schema(
        summary="Run a periodic job (platforms without beat)",
        description="Jobs: " + ", ".join(CRON_JOBS) + ". Authorization: `Bearer <CRON_SECRET>`.",
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
