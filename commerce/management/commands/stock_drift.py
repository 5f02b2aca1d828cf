"""`manage.py stock_drift [--integration CODE] [--organization SLUG]`: where channels' stock differs from the ERP's."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from accounts.models import Organization
from commerce.selectors import stock_drift
from integrations.models import Integration


def _age(seconds: int | None) -> str:
    if seconds is None:
        return "?"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


class Command(BaseCommand):
    help = "Report every mapped channel location whose level differs from the ERP's sellable quantity, with age."

    def add_arguments(self, parser):
        parser.add_argument("--integration", help="Only this integration (its code).")
        parser.add_argument("--organization", help="Only this organization (its slug).")

    def handle(self, *args, **options):
        integrations = Integration.objects.all()
        if options["integration"]:
            integrations = integrations.filter(code=options["integration"])
            if not integrations.exists():
                raise CommandError(f"No integration has the code {options['integration']!r}.")
        organizations = Organization.objects.filter(pk__in=integrations.values("organization_id"))
        if options["organization"]:
            organizations = organizations.filter(slug=options["organization"])
            if not organizations.exists():
                raise CommandError(f"No organization {options['organization']!r} with such integrations.")
        only = integrations.get().pk if options["integration"] else None
        total = 0
        header = f"{'integration':<20} {'mode':<6} {'channel loc':<14} {'erp loc':<14} {'sku':<24} " \
                 f"{'channel':>8} {'erp':>8} {'diff':>6} {'age':>6}"
        for organization in organizations.order_by("slug"):
            rows = stock_drift(organization=organization, integration_id=only)
            if not rows:
                continue
            self.stdout.write(f"{organization.slug}:")
            self.stdout.write(header)
            for row in rows:
                channel = "untracked" if row.channel_quantity is None else str(row.channel_quantity)
                diff = "" if row.difference is None else f"{row.difference:+d}"
                self.stdout.write(
                    f"{row.integration_code[:20]:<20} {row.stock_mode:<6} {row.channel_location[:14]:<14} "
                    f"{row.erp_location[:14]:<14} {row.sku[:24]:<24} {channel:>8} {row.erp_quantity:>8} "
                    f"{diff:>6} {_age(row.age_seconds):>6}")
            total += len(rows)
        self.stdout.write(f"{total} drifting level(s).")
