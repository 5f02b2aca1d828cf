"""Beat: follow open FAN Courier AWBs (schedule created by migration 0002; editable in the admin)."""

from __future__ import annotations

from celery import shared_task

from .tracking import fancourier_integrations, track_open_shipments


@shared_task(ignore_result=True)
def track_open_awbs() -> dict[str, int]:
    """Fan out one tracking task per active FAN Courier integration."""
    ids = list(fancourier_integrations().values_list("pk", flat=True))
    for integration_id in ids:
        track_integration_awbs.delay(integration_id)
    return {"integrations": len(ids)}


@shared_task(ignore_result=True)
def track_integration_awbs(integration_id: int) -> dict[str, int]:
    return track_open_shipments(integration_id=integration_id)
