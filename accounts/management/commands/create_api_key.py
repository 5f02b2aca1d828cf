"""`manage.py create_api_key --org SLUG --name NAME [--role ROLE]`: make an organization API key.

The key is printed once, alone on the last line, so a script can take it with
`tail -n1`; only its hash is stored and it cannot be shown again.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from accounts.audit import command_actor, record_audit
from accounts.models import Organization, Role
from accounts.services import api_key_create
from config.errors import ApplicationError


class Command(BaseCommand):
    help = "Create an API key for an organization and print it once."

    def add_arguments(self, parser):
        parser.add_argument("--org", required=True, help="The organization's slug.")
        parser.add_argument("--name", required=True, help="What the key is for, to tell keys apart.")
        parser.add_argument(
            "--role", default=Role.OPERATOR.value, help=f"One of {', '.join(Role.values)} (default operator)."
        )

    def handle(self, *args, org: str, name: str, role: str, **options):
        # Checked here rather than by argparse `choices` so that the error is a CommandError with the choices listed.
        if role not in Role.values:
            raise CommandError(f"Unknown role {role!r}: choose one of {', '.join(Role.values)}.")
        organization = Organization.objects.filter(slug=org).first()
        if organization is None:
            raise CommandError(f"No organization with slug {org!r}.")
        try:
            api_key, raw = api_key_create(organization=organization, name=name, role=role)
        except ApplicationError as exc:
            raise CommandError(exc.message)
        record_audit(action="api_key.created", target=api_key, actor_label=command_actor("create_api_key"),
                     details={"role": api_key.role, "prefix": api_key.prefix})
        self.stdout.write(
            f"Created API key {api_key.name!r} ({api_key.prefix}…, role {api_key.role}) for {organization.slug}. "
            "Store it now: it is not shown again."
        )
        self.stdout.write(raw)
