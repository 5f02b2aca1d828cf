"""What sync jobs tell about an integration's health (integrations/health_selectors.py judges it): its last job
and the one pending or running, if any. Registered as a health source in SyncJobsConfig.ready; one query per
page of integrations (correlated subqueries, each an index probe on syncjob_integration_created)."""

from __future__ import annotations

from typing import Any

from django.db.models import OuterRef, Subquery

from integrations.health_selectors import HealthFacts
from integrations.models import Integration

from .models import JobStatus, SyncJob


def sync_job_facts(*, integrations: list[Integration], facts: dict[int, HealthFacts], **_: Any) -> None:
    jobs = SyncJob.objects.filter(integration=OuterRef("pk")).order_by("-created_at", "-id")
    rows = (Integration.objects.filter(pk__in=list(facts)).order_by()
            .annotate(last_job_id=Subquery(jobs.values("id")[:1]),
                      last_job_status=Subquery(jobs.values("status")[:1]),
                      last_job_type=Subquery(jobs.values("job_type")[:1]),
                      running_job_id=Subquery(jobs.filter(status__in=(JobStatus.PENDING, JobStatus.RUNNING))
                                              .values("id")[:1]))
            .values_list("pk", "last_job_id", "last_job_status", "last_job_type", "running_job_id"))
    for pk, last_id, last_status, last_type, running_id in rows:
        found = facts[pk]
        found.last_job_id, found.last_job_status, found.last_job_type = last_id, last_status, last_type
        found.running_job_id = running_id
