"""Who owns a provider account, so that provider-level webhooks reach one integration and never guess.

Some webhooks arrive at an address shared by every organization (`/api/webhooks/shopify/`, Meta's) and name
only the account at the provider: a shop domain, a page id. An integration merely *naming* that account (its
config says `shop_domain: a.myshopify.com`) proves nothing: anyone can type a domain. So an account routes to
an integration only once claimed, and a claim needs proof:

- a completed OAuth connect, where the provider vouched for the account (Shopify's signed callback names the
  shop; eBay's and TikTok Shop's ids are read with the new token), for connectors whose
  `oauth_proves_routed_accounts` is true;
- a superuser (the admin's claim action), for accounts a connect cannot prove (Amazon's seller id) or to sort
  out a dispute.

One account of a kind has at most one claim across all organizations (AccountClaim's unique constraint). A
second claim is refused with ACCOUNT_ALREADY_CLAIMED, which names no other tenant; a superuser releases the
first claim (a shop that changed hands). A claim lasts as long as its integration names the account: it goes
with the integration's deletion, and an edit that points the integration at another account releases it. A
disconnect does not release it: Shopify sends `shop/redact` 48 hours after an uninstall, and that belongs to
the shop's last owner.
"""

from __future__ import annotations

import logging

from django.db import IntegrityError, transaction
from rest_framework import status

from config.errors import ApplicationError
from connectors import registry
from connectors.base import ProviderAccount

from .models import AccountClaim, ClaimProof, Integration

logger = logging.getLogger(__name__)


class AccountAlreadyClaimed(ApplicationError):
    """Another integration (of this organization or any other: the message must not say which) holds the account."""

    code = "ACCOUNT_ALREADY_CLAIMED"
    http_status = status.HTTP_409_CONFLICT
    default_message = "This provider account is already connected to another integration."


def _refusal(account: ProviderAccount) -> AccountAlreadyClaimed:
    return AccountAlreadyClaimed(
        f"The {account.kind} account {account.id} is already connected to another integration. If it is yours, "
        "reconnect that integration, or ask an administrator to release it.",
        details={"account": {"kind": account.kind, "id": account.id}},
    )


def _provable_accounts(integration: Integration, proof: str) -> list[ProviderAccount]:
    if not registry.is_registered(integration.provider):
        return []
    connector = registry.connector_for(integration)
    if proof == ClaimProof.OAUTH and not connector.oauth_proves_routed_accounts:
        return []
    kinds = set(connector.routed_account_kinds)
    return [account for account in connector.routed_accounts() if account.kind in kinds and account.id]


@transaction.atomic
def accounts_claim(*, integration: Integration, proof: str, user=None) -> list[AccountClaim]:
    """Claim the accounts the integration is connected as; raises ACCOUNT_ALREADY_CLAIMED if another holds one.

    Idempotent for the integration's own claims. Runs in the caller's transaction (the OAuth connect's), so a
    refusal leaves the connect unsaved. Claims of the same kinds for accounts it is no longer connected as (a
    reconnect to another eBay user) are released.
    """
    accounts = _provable_accounts(integration, proof)
    claims = []
    for account in accounts:
        held = AccountClaim.objects.select_for_update().filter(kind=account.kind, account_id=account.id).first()
        if held is not None and held.integration_id != integration.pk:
            logger.warning("Claim of %s %s by integration %s refused: integration %s holds it",
                           account.kind, account.id, integration.pk, held.integration_id)
            raise _refusal(account)
        if held is None:
            try:
                with transaction.atomic():
                    held = AccountClaim.objects.create(kind=account.kind, account_id=account.id,
                                                       integration=integration, proof=proof,
                                                       claimed_by=user if getattr(user, "pk", None) else None)
            except IntegrityError:  # a concurrent claim won the race
                raise _refusal(account) from None
        claims.append(held)
    if accounts:
        kinds = {account.kind for account in accounts}
        AccountClaim.objects.filter(integration=integration, kind__in=kinds).exclude(
            pk__in=[claim.pk for claim in claims]).delete()
    return claims


def claims_release(*, integration: Integration) -> int:
    """Release every claim of the integration (a superuser's decision: the account changed hands). How many."""
    deleted, _ = AccountClaim.objects.filter(integration=integration).delete()
    return deleted


def claims_forget_stale(*, integration: Integration) -> int:
    """Release the claims of accounts the integration no longer names (its shop domain was edited)."""
    named = ({(a.kind, a.id) for a in registry.connector_for(integration).routed_accounts()}
             if registry.is_registered(integration.provider) else set())
    stale = [claim.pk for claim in AccountClaim.objects.filter(integration=integration)
             if (claim.kind, claim.account_id) not in named]
    if stale:
        AccountClaim.objects.filter(pk__in=stale).delete()
    return len(stale)


def account_owners(kinds: list[str] | tuple[str, ...], account_ids: set[str]) -> list[Integration]:
    """The integrations holding the claims of these accounts (one per claim, distinct, registered providers)."""
    if not kinds or not account_ids:
        return []
    claims = AccountClaim.objects.filter(kind__in=list(kinds), account_id__in=list(account_ids)).select_related(
        "integration", "integration__organization").order_by("integration_id")
    owners: dict[int, Integration] = {}
    for claim in claims:
        if registry.is_registered(claim.integration.provider):
            owners.setdefault(claim.integration_id, claim.integration)
    return list(owners.values())
