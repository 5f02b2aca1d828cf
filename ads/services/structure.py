"""Importing an ad platform's structure: ad accounts, campaigns, ad sets — in bulk, idempotent, never regressing.

Each writer takes a page of records in the shape the connectors' `normalize_*` give (AdsSource,
connectors/capabilities.py) and does what commerce's order import does (commerce/services/refs.py): claim and
lock the ExternalRefs of the page, drop what is older than the version already written (the platform's
`updated_time`) or identical to it (payload hash), resolve parents, then write the rest with one
insert-or-update statement and point the refs at the rows. A record whose parent is not imported yet fails
with reason `unknown_item` (the structure sync imports accounts, then campaigns, then ad sets).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import models, transaction
from django.utils import timezone

from commerce.models import ExternalRef, ResourceType
from commerce.services.refs import UpsertResult, claim_refs, is_older, newest_per_id, payload_hash, save_refs
from integrations.models import Integration

from ..models import AdAccount, AdSet, Campaign, DeliveryStatus


class BadRecord(ValueError):
    """A normalized record the writer cannot take; the message names the field."""


def _text(record: dict[str, Any], key: str, limit: int) -> str:
    return str(record.get(key) or "")[:limit]


def _money(record: dict[str, Any], key: str) -> Decimal | None:
    value = record.get(key)
    if value in (None, ""):
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise BadRecord(f"{key} is not a number") from None
    if amount < 0 or not amount.is_finite():
        raise BadRecord(f"{key} must be a positive amount")
    return amount


def _status(record: dict[str, Any]) -> str:
    status = str(record.get("status") or "")
    if status not in DeliveryStatus.values:
        raise BadRecord(f"status {status!r} is not one of {', '.join(DeliveryStatus.values)}")
    return status


def _updated(record: dict[str, Any]) -> datetime | None:
    value = record.get("updated_at")
    if value is None:
        return None
    if not isinstance(value, datetime) or timezone.is_naive(value):
        raise BadRecord("updated_at must be an aware datetime")
    return value


def _account_row(record: dict[str, Any], parents: dict[str, int]) -> dict[str, Any]:
    return {"name": _text(record, "name", 300), "currency": _text(record, "currency", 3).upper(),
            "timezone_name": _text(record, "timezone", 64), "is_active": bool(record.get("is_active", True))}


def _campaign_row(record: dict[str, Any], parents: dict[str, int]) -> dict[str, Any]:
    account = str(record.get("account_external_id") or "")
    if account not in parents:
        raise _Unknown(f"ad account {account or '(none)'} is not imported")
    return {"ad_account_id": parents[account], "name": _text(record, "name", 300), "status": _status(record),
            "effective_status": _text(record, "effective_status", 40), "objective": _text(record, "objective", 64),
            "daily_budget": _money(record, "daily_budget"), "lifetime_budget": _money(record, "lifetime_budget"),
            "currency": _text(record, "currency", 3).upper()}


def _ad_set_row(record: dict[str, Any], parents: dict[str, int]) -> dict[str, Any]:
    campaign = str(record.get("campaign_external_id") or "")
    if campaign not in parents:
        raise _Unknown(f"campaign {campaign or '(none)'} is not imported")
    return {"campaign_id": parents[campaign], "name": _text(record, "name", 300), "status": _status(record),
            "effective_status": _text(record, "effective_status", 40),
            "optimization_goal": _text(record, "optimization_goal", 64),
            "daily_budget": _money(record, "daily_budget"), "lifetime_budget": _money(record, "lifetime_budget")}


class _Unknown(BadRecord):
    """The record's parent is not imported yet."""


def _parents(integration: Integration, model: type[models.Model] | None, key: str,
             records: list[dict[str, Any]]) -> dict[str, int]:
    if model is None:
        return {}
    wanted = {str(r.get(key) or "") for r in records} - {""}
    return dict(model.objects.filter(integration=integration, external_id__in=wanted)
                .values_list("external_id", "pk"))


def _upsert(integration: Integration, records: list[dict[str, Any]], *, model: type[models.Model],
            resource_type: str, row: Callable[[dict[str, Any], dict[str, int]], dict[str, Any]],
            parent_model: type[models.Model] | None = None, parent_key: str = "") -> UpsertResult:
    result = UpsertResult()
    parsed: list[tuple[str, datetime | None, dict]] = []
    for record in records:
        external_id = str(record.get("external_id") or "") if isinstance(record, dict) else ""
        if not external_id:
            result.fail(None, "external_id is missing")
            continue
        try:
            updated_at = _updated(record)
        except BadRecord as exc:
            result.fail(external_id, str(exc))
            continue
        parsed.append((external_id, updated_at, record))
    chosen = newest_per_id(parsed)
    result.unchanged += len(parsed) - len(chosen)
    if not chosen:
        return result

    refs = claim_refs(integration=integration, resource_type=resource_type, external_ids=list(chosen))
    parents = _parents(integration, parent_model, parent_key, [record for _, record in chosen.values()])
    rows: dict[str, dict[str, Any]] = {}
    for external_id, (updated_at, record) in chosen.items():
        ref, digest = refs[external_id], payload_hash(record)
        if ref.object_id is not None and (ref.payload_hash == digest or is_older(updated_at,
                                                                                   ref.external_updated_at)):
            result.unchanged += 1
            continue
        try:
            fields = row(record, parents)
        except _Unknown as exc:
            result.fail(external_id, str(exc), reason="unknown_item")
            continue
        except BadRecord as exc:
            result.fail(external_id, str(exc))
            continue
        rows[external_id] = {**fields, "external_updated_at": updated_at, "_hash": digest}
    if not rows:
        return result

    update_fields = [name for name in next(iter(rows.values())) if name != "_hash"] + ["updated_at"]
    model.objects.bulk_create(
        [model(organization_id=integration.organization_id, integration=integration, external_id=external_id,
               **{k: v for k, v in fields.items() if k != "_hash"}) for external_id, fields in sorted(rows.items())],
        update_conflicts=True, unique_fields=["integration", "external_id"], update_fields=update_fields,
    )
    ids = dict(model.objects.filter(integration=integration, external_id__in=list(rows))
               .values_list("external_id", "pk"))
    written: list[ExternalRef] = []
    for external_id, fields in rows.items():
        ref = refs[external_id]
        if ref.object_id is None:
            result.created += 1
        else:
            result.updated += 1
        ref.object_id, ref.external_updated_at, ref.payload_hash = ids[external_id], fields["external_updated_at"], \
            fields["_hash"]
        written.append(ref)
    save_refs(written)
    return result


@transaction.atomic
def upsert_ad_accounts(*, integration: Integration, accounts: list[dict]) -> UpsertResult:
    """Create or update a page of ad accounts (`external_id`, `name`, `currency`, `timezone`, `is_active`)."""
    return _upsert(integration, accounts, model=AdAccount, resource_type=ResourceType.AD_ACCOUNT, row=_account_row)


@transaction.atomic
def upsert_campaigns(*, integration: Integration, campaigns: list[dict]) -> UpsertResult:
    """Create or update a page of campaigns (`external_id`, `account_external_id`, `name`, `status`,
    `effective_status`, `objective`, `daily_budget`/`lifetime_budget` in major units, `currency`, `updated_at`).

    A version older than the one written (by `updated_at`) changes nothing, whichever arrives last.
    """
    return _upsert(integration, campaigns, model=Campaign, resource_type=ResourceType.CAMPAIGN, row=_campaign_row,
                   parent_model=AdAccount, parent_key="account_external_id")


@transaction.atomic
def upsert_ad_sets(*, integration: Integration, ad_sets: list[dict]) -> UpsertResult:
    """Create or update a page of ad sets / ad groups (`external_id`, `campaign_external_id`, `name`, `status`,
    `effective_status`, `optimization_goal`, budgets, `updated_at`)."""
    return _upsert(integration, ad_sets, model=AdSet, resource_type=ResourceType.AD_SET, row=_ad_set_row,
                   parent_model=Campaign, parent_key="campaign_external_id")
