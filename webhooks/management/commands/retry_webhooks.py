"""`manage.py retry_webhooks --status failed [--integration CODE] [--since DATE]`: re-queue incoming webhooks.

After a fix is deployed (a mapping bug, a provider outage), the webhooks that
failed meanwhile are put back to pending with fresh retries and queued, in
batches, with a progress bar. `--status retrying` takes those still waiting in
backoff after an error (pending, with the error of their last attempt): they
are queued now, with fresh retries, instead of at their next attempt.
`--status completed|ignored` replays rows that already ran (the handlers are
idempotent). Safe to re-run: a row already pending (and not retrying) or
processing is not touched.
"""

from __future__ import annotations

from datetime import datetime, time

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Count
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from tqdm import tqdm

from accounts.audit import command_actor, record_audit
from integrations.selectors import integration_by_reference
from webhooks.inbound.services import REPLAYABLE, webhooks_requeue
from webhooks.models import IncomingStatus, IncomingWebhook

# Not a status of its own: pending rows waiting in backoff with the error of their last attempt.
RETRYING = "retrying"


def _since(value: str) -> datetime:
    moment = parse_datetime(value)
    if moment is None:
        day = parse_date(value)
        if day is None:
            raise CommandError(f"--since {value!r} is not a date (YYYY-MM-DD) or an ISO 8601 time.")
        moment = datetime.combine(day, time.min)
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment, timezone.get_default_timezone())


def _record(webhook_ids: list[int], *, status: str, integration: str | None, since: str | None) -> None:
    """One audit event per organization whose webhooks were re-queued (as the console's retry and replay name
    them), with how many: a command may re-queue thousands."""
    verb = "retried" if status in (IncomingStatus.FAILED, RETRYING) else "replayed"
    counts = (IncomingWebhook.objects.filter(pk__in=webhook_ids).order_by().values("organization_id")
              .annotate(count=Count("pk")).values_list("organization_id", "count"))
    for organization_id, count in counts:
        record_audit(action=f"webhook.{verb}", organization=organization_id, actor_label=command_actor(
            "retry_webhooks"), details={"count": count, "status": status, "integration": integration,
                                        "since": since})


class Command(BaseCommand):
    help = ("Put incoming webhooks of a status back to pending and queue them (failed ones by default; "
            "--status retrying for those waiting in backoff).")

    def add_arguments(self, parser):
        parser.add_argument("--status", default="failed", choices=[*(str(s) for s in REPLAYABLE), RETRYING],
                            help="Which webhooks to re-queue (default failed; retrying: those waiting in backoff "
                                 "after an error, queued now; completed/ignored replays them).")
        parser.add_argument("--integration", metavar="CODE", help="Only this integration's webhooks.")
        parser.add_argument("--since", metavar="DATE", help="Only webhooks received at or after this date/time.")
        parser.add_argument("--batch-size", type=int, default=500, help="Rows per transaction (default 500).")
        parser.add_argument("--dry-run", action="store_true", help="Count what would be re-queued; change nothing.")

    def handle(self, *args, status: str, integration: str | None, since: str | None, batch_size: int,
               dry_run: bool, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        if status == RETRYING:
            rows = IncomingWebhook.objects.filter(status=IncomingStatus.PENDING).exclude(error_message="")
            statuses = [IncomingStatus.PENDING]
        else:
            rows, statuses = IncomingWebhook.objects.filter(status=status), [status]
        if integration:
            found = integration_by_reference(integration)
            if found is None:
                raise CommandError(f"No integration with code {integration!r}, or several: "
                                   "name it ORGANIZATION_SLUG/CODE.")
            rows = rows.filter(integration=found)
        if since:
            rows = rows.filter(received_at__gte=_since(since))
        ids = list(rows.order_by("received_at", "pk").values_list("pk", flat=True))
        if dry_run:
            self.stdout.write(f"Would re-queue {len(ids)} {status} webhook(s).")
            return
        done: list[int] = []
        # tqdm rewrites its line with \r; Django's OutputWrapper would end every update with a newline.
        progress_file = getattr(self.stderr, "_out", self.stderr)
        with tqdm(total=len(ids), desc=f"{status} webhooks", unit="webhook", file=progress_file) as bar:
            for start in range(0, len(ids), batch_size):
                batch = ids[start : start + batch_size]
                done += webhooks_requeue(webhook_ids=batch, statuses=statuses)
                bar.update(len(batch))
        requeued = len(done)
        _record(done, status=status, integration=integration, since=since)
        skipped = len(ids) - requeued
        note = f" {skipped} changed status meanwhile and were left alone." if skipped else ""
        self.stdout.write(self.style.SUCCESS(f"Re-queued {requeued} {status} webhook(s).{note}"))
