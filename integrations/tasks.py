"""Background work for integrations. Tasks take plain arguments, call a service, and are safe to run twice."""

from __future__ import annotations

from celery import shared_task

from .retention import integration_logs_purge


@shared_task(ignore_result=True)
def purge_integration_logs(older_than_days: int | None = None) -> int:
    """Delete IntegrationLog rows past retention (INTEGRATION_LOG_RETENTION_DAYS unless given)."""
    return integration_logs_purge(older_than_days=older_than_days)
