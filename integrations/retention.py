"""Log retention: IntegrationLog grows by one row per provider call, so old rows are purged on a schedule."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from .models import IntegrationLog


def integration_logs_purge(*, older_than_days: int | None = None, batch_size: int = 5000) -> int:
    """Delete IntegrationLog rows older than `older_than_days` (default INTEGRATION_LOG_RETENTION_DAYS).

    Deletes in batches of primary keys so that a table of millions of rows is
    never locked in one long statement; each batch commits on its own, so an
    interrupted purge keeps what it did and the next run carries on. Returns
    the number of rows deleted.
    """
    days = settings.INTEGRATION_LOG_RETENTION_DAYS if older_than_days is None else older_than_days
    if days < 0:
        raise ValueError("older_than_days must not be negative.")
    cutoff = timezone.now() - timedelta(days=days)
    expired = IntegrationLog.objects.filter(created_at__lt=cutoff).order_by("pk").values_list("pk", flat=True)
    deleted = 0
    while True:
        pks = list(expired[:batch_size])
        if not pks:
            return deleted
        count, _ = IntegrationLog.objects.filter(pk__in=pks).delete()
        deleted += count
