"""Claim the provider accounts of integrations that were connected before claims existed.

Without it every shop already connected would stop receiving its app-level webhooks (an unclaimed account
routes nowhere). An account is claimed for an integration only when, across all organizations, exactly one
active integration names it, and that integration was connected through OAuth (it holds a token type, which
the OAuth connect sets and a disconnect clears) of a provider whose connect proves the account. Anything
else — two organizations naming one shop, an integration with pasted keys, a paused one — stays unclaimed
for a superuser to decide (the admin's claim action); the migration logs what it left.
"""

import logging
from collections import defaultdict

from django.db import migrations

logger = logging.getLogger(__name__)


def claim_connected(apps, schema_editor):
    from connectors import registry

    Integration = apps.get_model("integrations", "Integration")
    AccountClaim = apps.get_model("integrations", "AccountClaim")
    named = defaultdict(list)  # (kind, id) -> active integrations naming it
    for integration in Integration.objects.filter(status="active").iterator():
        if not registry.is_registered(integration.provider):
            continue
        connector_cls = registry.get(integration.provider)
        if not connector_cls.routed_account_kinds:
            continue
        try:
            accounts = connector_cls(integration).routed_accounts()
        except Exception as exc:  # noqa: BLE001 - a row the connector cannot read is left for staff
            logger.warning("integration %s: accounts not read (%s)", integration.pk, type(exc).__name__)
            continue
        for account in accounts:
            if account.kind in connector_cls.routed_account_kinds and account.id:
                named[(account.kind, account.id)].append(integration)
    for (kind, account_id), integrations in named.items():
        integration = integrations[0] if len(integrations) == 1 else None
        if integration is None or not integration.token_type or not registry.get(
                integration.provider).oauth_proves_routed_accounts:
            logger.warning("%s %s left unclaimed (%d active integrations name it)", kind, account_id,
                           len(integrations))
            continue
        AccountClaim.objects.get_or_create(kind=kind, account_id=account_id,
                                           defaults={"integration": integration, "proof": "migration"})


class Migration(migrations.Migration):
    dependencies = [("integrations", "0004_account_claims")]

    operations = [migrations.RunPython(claim_connected, migrations.RunPython.noop)]
