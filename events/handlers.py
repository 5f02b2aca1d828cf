"""What a consumed event does. One function per event type, listed in HANDLERS; any other type is stored ignored.

A handler gets the event row and its `data` and returns a JSON summary of what
it did (stored on the row). Raising ValidationError (or ValueError, KeyError,
TypeError) marks the event failed at once: the payload is wrong and retrying
cannot help; anything else is retried with backoff (processing.py).

- `user.deleted` `{"user_id": "u_123"}`: the organization's integrations that
  user connected (`Integration.connected_by`) are removed through the one
  integration delete service — an OAuth one disconnected first (its webhook
  subscriptions removed and its tokens revoked at the provider, through its
  connector), any other unsubscribed — with an `integration.deleted` audit event
  each. It calls providers, so it runs outside a transaction (`atomic=False`)
  and is idempotent instead: a re-run (a worker died half way) removes only
  what is left, and a repeated event finds nothing to remove.
- `content.published` `{"integrations"?: ["shop-ro", …], "social_accounts"?: ["1784…"], "job_type"?: "sync_products"}`:
  a sync of each affected integration — the codes named, those of the social
  accounts named (external ids), or every integration of the organization — that
  is active, has auto sync on and whose provider can do the job type (without
  one: `sync_posts` for a social platform, `sync_products` for any other). Its
  jobs are written in the transaction that completes the event (`atomic=True`),
  so they exist exactly when the event is processed; one already pending or
  running for an integration is reported, not doubled.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from accounts.audit import record_audit
from config.errors import ApplicationError, ValidationError
from connectors import registry
from connectors.base import Capability
from integrations.models import Integration, IntegrationStatus
from integrations.services import integration_delete
from social.models import SocialAccount
from syncjobs.models import JobType, Trigger
from syncjobs.services import sync_job_start

from .models import InboundEvent

# Continues only while the worker still holds the event's lease; raises when it does not.
LeaseCheck = Callable[[], None]


@dataclass(frozen=True)
class Handler:
    run: Callable[[InboundEvent, dict[str, Any], LeaseCheck], dict[str, Any]]
    atomic: bool  # True: its writes commit together with the event's final status


def _integration_ref(integration: Integration) -> dict[str, Any]:
    return {"id": integration.pk, "code": integration.code, "provider": integration.provider}


def _actor(event: InboundEvent) -> str:
    return f"event {event.event_type} from {event.source.name} ({event.event_id})"[:200]


def user_deleted(event: InboundEvent, data: dict[str, Any], still_ours: LeaseCheck) -> dict[str, Any]:
    user_id = data.get("user_id")
    if isinstance(user_id, int) and not isinstance(user_id, bool):
        user_id = str(user_id)
    if not isinstance(user_id, str) or not user_id.strip():
        raise ValidationError("user.deleted names no user (data.user_id).",
                              details={"data.user_id": ["A non-empty string."]})
    removed = []
    targets = (Integration.objects.filter(organization_id=event.organization_id, connected_by=user_id)
               .select_related("organization").order_by("pk"))
    for integration in targets:
        still_ours()
        gone = copy.copy(integration)  # delete() forgets the pk; the audit event names the row as it was
        integration_delete(integration=integration)
        record_audit(action="integration.deleted", organization=event.organization_id, target=gone, via="api",
                     actor_label=_actor(event),
                     details={"reason": "user.deleted", "user_id": user_id, "inbound_event": event.pk})
        removed.append(_integration_ref(gone))
    return {"user_id": user_id, "removed": removed}


SYNC_JOB_TYPES = (JobType.SYNC_PRODUCTS, JobType.SYNC_INVENTORY, JobType.SYNC_ORDERS, JobType.SCHEDULED_SYNC,
                  JobType.SYNC_POSTS)


def _default_job_type(integration: Integration) -> str:
    """Without `job_type`: a social platform's accounts and posts, any other channel's products."""
    provider = registry.providers().get(integration.provider)
    if provider is not None and provider.supports(Capability.POSTS):
        return JobType.SYNC_POSTS
    return JobType.SYNC_PRODUCTS


def content_published(event: InboundEvent, data: dict[str, Any], still_ours: LeaseCheck) -> dict[str, Any]:
    job_type = data.get("job_type")
    if job_type is not None and job_type not in SYNC_JOB_TYPES:
        raise ValidationError(details={"data.job_type": [f"One of {', '.join(SYNC_JOB_TYPES)}."]})
    codes = data.get("integrations")
    candidates = Integration.objects.filter(organization_id=event.organization_id).order_by("pk")
    unknown: list[str] = []
    if codes is not None:
        if not isinstance(codes, list) or not all(isinstance(code, str) for code in codes):
            raise ValidationError(details={"data.integrations": ["A list of integration codes."]})
        candidates = candidates.filter(code__in=codes)
        unknown = sorted(set(codes) - {i.code for i in candidates})
    account_ids = data.get("social_accounts")
    if account_ids is not None:
        if not isinstance(account_ids, list) or not all(isinstance(a, str) for a in account_ids):
            raise ValidationError(details={"data.social_accounts": ["A list of social account external ids."]})
        accounts = SocialAccount.objects.filter(organization_id=event.organization_id, external_id__in=account_ids)
        candidates = candidates.filter(pk__in=accounts.values("integration_id"))
        unknown += sorted(set(account_ids) - set(accounts.values_list("external_id", flat=True)))
    started, skipped = [], []
    for integration in candidates:
        if integration.status != IntegrationStatus.ACTIVE or not integration.auto_sync_enabled:
            skipped.append({**_integration_ref(integration), "reason": "not active with auto sync on"})
            continue
        try:
            with transaction.atomic():
                job = sync_job_start(integration=integration, trigger=Trigger.WEBHOOK,
                                     job_type=job_type or _default_job_type(integration))
        except ApplicationError as exc:  # cannot do this job type, or one is already pending or running
            skipped.append({**_integration_ref(integration), "reason": exc.message})
            continue
        started.append({**_integration_ref(integration), "sync_job": job.pk})
    return {"job_type": job_type or "per provider", "started": started, "skipped": skipped, "unknown": unknown}


HANDLERS: dict[str, Handler] = {
    "user.deleted": Handler(user_deleted, atomic=False),
    "content.published": Handler(content_published, atomic=True),
}
