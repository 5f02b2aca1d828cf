"""Order exports: the organization's orders written into its ERP (an `OrderSink` connector), hourly.

Commerce decides which orders are due and records what the ERP answered
(commerce/services/order_export.py); this module makes the provider calls,
outside any transaction, one order at a time. The connector is idempotent by
our order id, which the ERP stores on its document: a push retried after a
timeout whose write did land finds that document instead of making another.

One export per integration runs at a time (a cache lock: Redis in production,
so beat and a cron call, or two workers, take turns); the lock only saves
calls, since the connector's lookup is what keeps a document single.

Errors: a transient one (429, 5xx, timeout) stops the run, the order stays due
and the next run (or the task's retry) tries it again; a permanent one (a line
whose product the ERP does not list, a refused document) is recorded in the
integration's `metadata["order_export"]["failed"]`, the run goes on, and the
order is tried again next hour, when an operator may have fixed the cause.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from commerce.services.order_export import order_export_body, order_export_record, order_exports_due
from config.errors import ApplicationError
from connectors import registry
from connectors.base import Capability
from connectors.errors import is_transient
from integrations.metadata import integration_metadata_key_update
from integrations.models import Integration, IntegrationStatus

logger = logging.getLogger(__name__)

LOCK_SECONDS = 15 * 60
FAILED_KEPT = 20


@dataclass
class ExportRun:
    pushed: list[int] = field(default_factory=list)  # order ids written now
    found: list[int] = field(default_factory=list)  # order ids the ERP already held (a retried push)
    failed: dict[int, str] = field(default_factory=dict)
    locked: bool = False

    def summary(self) -> dict[str, Any]:
        return {"pushed": self.pushed, "found": self.found, "failed": {str(k): v for k, v in self.failed.items()},
                "locked": self.locked}


def integrations_exporting_orders() -> list[int]:
    """Active integrations whose provider takes orders (OrderSink)."""
    return [pk for pk, provider in Integration.objects.filter(status=IntegrationStatus.ACTIVE)
            .values_list("pk", "provider").order_by("pk")
            if registry.is_registered(provider) and registry.supports(provider, Capability.ORDER_EXPORT)]


def orders_export(*, integration_id: int, limit: int | None = None) -> ExportRun:
    """Push the integration's due orders; re-raises a transient provider error (the orders stay due)."""
    run = ExportRun()
    integration = Integration.objects.filter(pk=integration_id).first()
    if integration is None:
        return run
    lock = f"order-export:{integration.pk}"
    if not cache.add(lock, "1", LOCK_SECONDS):
        run.locked = True
        return run
    try:
        connector = registry.connector_for(integration)
        due = order_exports_due(integration=integration, limit=limit or settings.ORDER_EXPORT_BATCH)
        for order in due:
            try:
                answer = connector.push_order(order_export_body(integration=integration, order=order))
            except ApplicationError as exc:
                if is_transient(exc):
                    raise
                run.failed[order.pk] = exc.message
                logger.warning("Order %s was not exported to %s: %s", order.pk, integration.code, exc.message)
                continue
            order_export_record(integration=integration, order_id=order.pk, external_id=answer["external_id"])
            (run.pushed if answer.get("created", True) else run.found).append(order.pk)
    finally:
        cache.delete(lock)
        _remember(integration, run)
    return run


def _remember(integration: Integration, run: ExportRun) -> None:
    """The last run on the integration's page: counts, and the orders that failed with their reasons.

    Only `metadata["order_export"]` is written (integrations/metadata.py): a token refresh or health note saved
    while the run was pushing stays.
    """

    def change(previous: dict[str, Any]) -> dict[str, Any]:
        failed = {k: v for k, v in (previous.get("failed") or {}).items()
                  if int(k) not in run.pushed and int(k) not in run.found}
        failed.update({str(k): v for k, v in run.failed.items()})
        return {"last_run_at": timezone.now().isoformat(), "pushed": len(run.pushed), "found": len(run.found),
                "failed": dict(list(failed.items())[-FAILED_KEPT:])}

    integration_metadata_key_update(integration_id=integration.pk, key="order_export", change=change)
