"""`manage.py sync CODE [--job-type T] [--since DATE] [--full]`: run a sync in the foreground, no worker needed."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from config.errors import ApplicationError
from integrations.selectors import integration_by_reference
from syncjobs import services
from syncjobs.management.foreground import command_error, record_command_start, run_in_foreground
from syncjobs.management.timeparse import parse_moment
from syncjobs.models import JobType


class Command(BaseCommand):
    help = "Sync an integration now, in this process, with a progress bar; exits non-zero unless it completes."

    def add_arguments(self, parser):
        parser.add_argument("code", help="The integration's code, or ORGANIZATION_SLUG/CODE.")
        parser.add_argument("--job-type", default=JobType.SCHEDULED_SYNC,
                            choices=[t for t in JobType.values if t != JobType.BACKFILL],
                            help="What to pull (default: every resource the provider has).")
        parser.add_argument("--since", type=parse_moment, help="Pull what changed since DATE (ISO 8601).")
        parser.add_argument("--full", action="store_true", help="Walk everything, ignoring the last sync.")
        parser.add_argument("--no-progress", action="store_true", help="No progress bar (logs, CI).")

    def handle(self, *args, code: str, job_type: str, since, full: bool, no_progress: bool, **options):
        integration = integration_by_reference(code)
        if integration is None:
            raise CommandError(f"No integration with code {code!r}, or several: "
                               "name it ORGANIZATION_SLUG/CODE.")
        try:
            claimed = services.sync_job_open_for_command(integration=integration, job_type=job_type, since=since,
                                                         full=full)
        except ApplicationError as exc:
            raise command_error(exc) from None
        record_command_start(claimed[0], command="sync", details={"full": full, **({"since": since.isoformat()}
                                                                                   if since else {})})
        run_in_foreground(claimed, stdout=self.stdout, progress=not no_progress)
