"""`manage.py analyze --kind stock|pricing|campaigns [--organization SLUG]`: run an analysis now, in this process,
and print its suggestions (the model's when the organization has an AI integration, else the rules')."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from accounts.audit import command_actor
from accounts.models import Organization
from analysis import services
from analysis.models import AnalysisKind, Trigger
from config.errors import ApplicationError


class Command(BaseCommand):
    help = "Run a campaigns, pricing or stock analysis now and print its suggestions."

    def add_arguments(self, parser):
        parser.add_argument("--kind", required=True, choices=AnalysisKind.values)
        parser.add_argument("--organization", help="Its slug; default every organization.")

    def handle(self, *args, kind: str, organization: str | None = None, **options):
        organizations = Organization.objects.order_by("id")
        if organization:
            organizations = organizations.filter(slug=organization)
            if not organizations.exists():
                raise CommandError(f"No organization with slug {organization!r}.")
        for org in organizations:
            try:
                run = services.analysis_start(organization=org, kind=kind, trigger=Trigger.COMMAND,
                                              actor_label=command_actor("analyze"), enqueue=False)
            except ApplicationError as exc:
                self.stderr.write(f"{org}: {exc.message}")
                continue
            run = services.analysis_run(run.pk) or run
            self.stdout.write(f"{org}: {run} {run.status} ({run.get_source_display() or '-'}), "
                              f"{run.suggestions.count()} suggestion(s){': ' + run.error if run.error else ''}")
            for suggestion in run.suggestions.order_by("id"):
                self.stdout.write(f"  #{suggestion.pk} {suggestion.text} (confidence {suggestion.confidence})")
