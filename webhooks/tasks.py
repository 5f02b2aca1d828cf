"""Background work for outgoing webhooks. Tasks take ids, call a service, and are safe to run twice.

The WebhookDelivery rows are the queue of record: a lost or duplicated message
changes nothing, because every send first claims its row (a delivered row, or
one another worker holds, is not claimable). So no task retries itself; the
beat runs `dispatch_due_deliveries` every few seconds as the sweeper.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from celery import shared_task
from django.utils import timezone

from config.broker import nudge

from .inbound.tasks import process_incoming_webhook, sweep_incoming_webhooks  # noqa: F401 - registers them
from .models import IdempotencyKey
from .outbound import dispatcher, endpoints
from .outbound.idempotency import KEY_TTL


@shared_task(bind=True, ignore_result=True)
def dispatch_due_deliveries(self) -> int:
    """Send due deliveries for one slice (published, retrying, recovered); returns the attempts made.

    A slice that ended with work left nudges the next run at once, so a backlog drains at full speed while
    each task stays a few seconds long (what lets a worker stop within its shutdown grace).
    """
    report = dispatcher.dispatch_due()
    if report.cut_short:
        queue = (self.request.delivery_info or {}).get("routing_key")
        nudge(dispatch_due_deliveries, **({"queue": queue} if queue else {}))
    return report.attempts


@shared_task(ignore_result=True)
def deliver(delivery_id: int) -> bool | None:
    """Send one delivery now (test ping, redeliver) unless it is not due or another worker holds it."""
    return dispatcher.deliver_now(delivery_id)


@shared_task(ignore_result=True)
def recover_endpoint(endpoint_id: int, since: str, until: str) -> int:
    """Re-queue the endpoint's failed deliveries created in [since, until) (ISO 8601)."""
    return endpoints.endpoint_recover(
        endpoint_id=endpoint_id, since=datetime.fromisoformat(since), until=datetime.fromisoformat(until)
    )


@shared_task(ignore_result=True)
def purge_idempotency_keys() -> int:
    """Forget Idempotency-Key answers older than 24 h (they carry a secret shown once)."""
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=timezone.now() - KEY_TTL - timedelta(minutes=1)).delete()
    return deleted
