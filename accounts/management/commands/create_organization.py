"""`manage.py create_organization SLUG [--name NAME]`: make an organization from a shell."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_slug

from accounts.services import organization_create
from config.errors import ApplicationError


class Command(BaseCommand):
    help = "Create an organization."

    def add_arguments(self, parser):
        parser.add_argument("slug", help="Unique slug: letters, digits, hyphens, underscores.")
        parser.add_argument("--name", help="Display name (defaults to the slug).")

    def handle(self, *args, slug: str, name: str | None, **options):
        try:
            validate_slug(slug)
        except DjangoValidationError:
            raise CommandError(f"{slug!r} is not a valid slug: use letters, digits, hyphens and underscores.")
        try:
            organization = organization_create(slug=slug, name=name)
        except ApplicationError as exc:
            raise CommandError(exc.message)
        self.stdout.write(self.style.SUCCESS(f"Created organization {organization.slug} ({organization.name})."))
