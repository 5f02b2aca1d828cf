"""`manage.py setup_demo`: the demo organization `make run` brings up, safe to run on every start.

It makes (or refreshes) an organization `demo`, a superuser `admin` who owns it,
and an integration `demo-shop` with the sandbox shop simulator, each of its sync schedules (products, inventory,
orders, order status) every DEMO_SYNC_MINUTES and due at once, so beat's first run_due_syncs starts them and the
dashboard shows work from the first minutes. The sandbox keeps
its tokens in memory, so each start hands the integration a fresh one-time
refresh token that `run_sandbox --seed-refresh-token` accepts: the first call
refreshes it into real tokens through the HTTP client's locked refresh, exactly
as an expiring production token would be.

It also connects the simulator's ad platform (Meta-shaped, under SANDBOX_URL/meta) as `demo-ads`: a
long-lived token written to VAR_DIR/demo-meta-token, which `run_sandbox --seed-meta-token` accepts, so the
console shows a connected ad account whose scheduled sync brings its campaigns and daily spend.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from accounts.models import Membership, Organization, Role
from commerce.models import ChannelLocation
from connectors import registry
from integrations.models import Integration, IntegrationStatus
from sandbox.ads import ACCOUNT_ID, META_CLIENT_ID, META_CLIENT_SECRET
from sandbox.data import LOCATION_ID_BASE
from sandbox.server import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from syncjobs.cadences import SYNC_JOB_TYPES
from syncjobs.schedules import schedule_list, schedule_update, schedules_ensure

DEMO_ORG = "demo"
DEMO_USER = "admin"
DEMO_INTEGRATION = "demo-shop"
DEMO_ADS = "demo-ads"
DEMO_ADS_SYNC_MINUTES = 60
DEMO_SYNC_MINUTES = 5


def admin_url() -> str:
    return settings.PUBLIC_BASE_URL.rstrip("/") + "/admin/"


def refresh_token_file() -> Path:
    return Path(settings.VAR_DIR) / "demo-refresh-token"


def meta_token_file() -> Path:
    return Path(settings.VAR_DIR) / "demo-meta-token"


class Command(BaseCommand):
    help = "Create or refresh the demo organization, admin login and sandbox shop integration."

    def handle(self, *args, **options):
        with transaction.atomic():
            org, _ = Organization.objects.get_or_create(slug=DEMO_ORG, defaults={"name": "Demo Merchant"})
            password_note = self._admin(org)
            integration = self._integration(org)
            self._locations(integration)
            ads = self._ad_account(org)
        self.stdout.write(self.style.SUCCESS(f"Demo organization '{org.slug}' with integrations '{integration.code}' "
                                             f"and '{ads.code}'."))
        self.stdout.write(f"Admin: {admin_url()}  user: {DEMO_USER}  password: {password_note}")

    def _admin(self, org: Organization) -> str:
        User = get_user_model()
        user = User.objects.filter(username=DEMO_USER).first()
        password = settings.DEMO_ADMIN_PASSWORD
        if user is None:
            password = password or secrets.token_urlsafe(12)
            user = User.objects.create_superuser(DEMO_USER, f"{DEMO_USER}@example.com", password)
            note = password
        elif password:
            user.set_password(password)
            user.save(update_fields=["password"])
            note = password
        else:
            note = "(unchanged; set DEMO_ADMIN_PASSWORD in .env to reset it)"
        Membership.objects.update_or_create(user=user, organization=org, defaults={"role": Role.OWNER})
        return note

    def _locations(self, integration: Integration) -> None:
        """The sandbox shop's two locations mapped to two ERP locations; the shop stays the source (`import`)."""
        for offset, (name, erp_location) in enumerate((("Main warehouse", "main"), ("Store front", "store-front"))):
            ChannelLocation.objects.update_or_create(
                integration=integration, external_id=str(LOCATION_ID_BASE + offset),
                defaults={"organization": integration.organization, "name": name, "erp_location": erp_location},
            )

    def _integration(self, org: Organization) -> Integration:
        seed = "demo_" + secrets.token_urlsafe(24)
        path = refresh_token_file()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(seed)
        fields = {
            "name": "Demo shop (sandbox)",
            "type": "ecommerce",
            "provider": "sandbox",
            "status": IntegrationStatus.ACTIVE,
            "api_endpoint": registry.get("sandbox")(Integration(provider="sandbox")).setting("URL"),
            "api_key": DEFAULT_CLIENT_ID,
            "api_secret": DEFAULT_CLIENT_SECRET,
            "webhook_secret": DEFAULT_CLIENT_SECRET,  # the sandbox signs with the client secret, as Shopify does
            "access_token": "",
            "refresh_token": seed,
            "expires_at": timezone.now() - timedelta(minutes=1),
            "token_type": "Bearer",
            "description": "The sandbox shop simulator that `make run` starts on SANDBOX_URL.",
            "config": {"stock_location": "main"},
            "auto_sync_enabled": True,
        }
        # The route key is fixed so that Procfile.dev's sandbox posts to /api/webhooks/receive/demo-shop/.
        integration, _ = Integration.objects.update_or_create(
            organization=org, code=DEMO_INTEGRATION, defaults=fields,
            create_defaults={**fields, "route_key": DEMO_INTEGRATION},
        )
        schedules_ensure([integration])
        for schedule in schedule_list(integration=integration):
            if schedule.job_type in SYNC_JOB_TYPES:
                schedule_update(schedule=schedule, every_minutes=DEMO_SYNC_MINUTES, enabled=True, due_now=True)
        return integration

    def _ad_account(self, org: Organization) -> Integration:
        """The simulator's ad platform, connected with a token the simulator is told to accept."""
        token = "EAASandboxDemo" + secrets.token_urlsafe(24)
        path = meta_token_file()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(token)
        sandbox_url = registry.get("sandbox")(Integration(provider="sandbox")).setting("URL").rstrip("/")
        fields = {
            "name": "Demo ads (sandbox Meta)",
            "type": "advertising",
            "provider": "meta_ads",
            "status": IntegrationStatus.ACTIVE,
            "api_endpoint": f"{sandbox_url}/meta",
            "credentials": {"client_id": META_CLIENT_ID, "client_secret": META_CLIENT_SECRET},
            "access_token": token,
            "refresh_token": token,  # Meta's long-lived token is what a refresh exchanges
            "expires_at": timezone.now() + timedelta(days=60),
            "token_type": "Bearer",
            "description": "The simulator's Meta-shaped ad platform that `make run` starts on SANDBOX_URL.",
            "config": {"ad_account_ids": [ACCOUNT_ID]},
            "auto_sync_enabled": True,
            "sync_interval_minutes": DEMO_ADS_SYNC_MINUTES,
            "next_sync_at": None,
        }
        integration, _ = Integration.objects.update_or_create(organization=org, code=DEMO_ADS, defaults=fields)
        return integration
