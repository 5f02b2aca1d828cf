"""`manage.py backfill_orders CODE --since DATE [--until DATE]`: import the orders placed in a range.

Runs in the foreground with a progress bar. Interrupted (Ctrl-C, a crash, a
provider outage past the retries), the same command carries on from the last
checkpoint of that range instead of starting over; `--restart` starts anew.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from config.errors import ApplicationError
from integrations.selectors import integration_by_reference
from syncjobs import services
from syncjobs.management.foreground import command_error, record_command_start, run_in_foreground
from syncjobs.management.timeparse import parse_moment
from syncjobs.models import JobType


class Command(BaseCommand):
    help = "Backfill an integration's orders placed in [--since, --until), resuming an interrupted run."

    def add_arguments(self, parser):
        parser.add_argument("code", help="The integration's code, or ORGANIZATION_SLUG/CODE.")
        parser.add_argument("--since", type=parse_moment, required=True, help="First day (ISO 8601 date or time).")
        parser.add_argument("--until", type=parse_moment, help="Up to, not including (default: now).")
        parser.add_argument("--restart", action="store_true", help="Start over instead of resuming.")
        parser.add_argument("--no-progress", action="store_true", help="No progress bar (logs, CI).")

    def handle(self, *args, code: str, since, until, restart: bool, no_progress: bool, **options):
        integration = integration_by_reference(code)
        if integration is None:
            raise CommandError(f"No integration with code {code!r}, or several: "
                               "name it ORGANIZATION_SLUG/CODE.")
        try:
            claimed = services.sync_job_open_for_command(
                integration=integration, job_type=JobType.BACKFILL, since=since, until=until, resume=not restart
            )
        except ApplicationError as exc:
            raise command_error(exc) from None
        job = claimed[0]
        record_command_start(job, command="backfill_orders", details={
            "since": since.isoformat(), "until": until.isoformat() if until else None,
            "resumed": bool(job.records_processed)})
        if job.records_processed:
            self.stdout.write(f"Resuming job {job.pk} from its checkpoint ({job.records_processed:,} records done).")
        run_in_foreground(claimed, stdout=self.stdout, progress=not no_progress)
