"""Drive's beat task: scan each active integration's folders hourly (scan.py), one task per integration."""

from __future__ import annotations

from celery import shared_task

from connectors import registry
from connectors.errors import is_transient
from integrations.models import Integration, IntegrationStatus

from .scan import drive_scan


@shared_task(ignore_result=True)
def scan_drive_folders() -> list[int]:
    ids = list(Integration.objects.filter(provider="google_drive", status=IntegrationStatus.ACTIVE)
               .values_list("pk", flat=True).order_by("pk"))
    for integration_id in ids:
        scan_drive.delay(integration_id)
    return ids


@shared_task(bind=True, ignore_result=True, max_retries=5)
def scan_drive(self, integration_id: int) -> dict | None:
    integration = Integration.objects.filter(pk=integration_id, provider="google_drive").first()
    if integration is None:
        return None
    try:
        return drive_scan(registry.connector_for(integration))
    except Exception as exc:
        if is_transient(exc):
            raise self.retry(exc=exc, countdown=60 * 2 ** self.request.retries)
        raise
