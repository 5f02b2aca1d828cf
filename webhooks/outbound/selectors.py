"""Reads of webhook endpoints and deliveries, always scoped to one organization (another's is not found)."""

from __future__ import annotations

from django.db.models import QuerySet

from accounts.models import Organization
from config.errors import WebhookNotFound

from ..models import WebhookDelivery, WebhookEndpoint


def _as_id(value: int | str) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def endpoint_list(*, organization: Organization) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(organization=organization)


def endpoint_get(*, organization: Organization, endpoint_id: int | str) -> WebhookEndpoint:
    pk = _as_id(endpoint_id)
    endpoint = None if pk is None else endpoint_list(organization=organization).filter(pk=pk).first()
    if endpoint is None:
        raise WebhookNotFound("Webhook endpoint not found.", details={"id": str(endpoint_id)})
    return endpoint


def delivery_list(*, organization: Organization) -> QuerySet[WebhookDelivery]:
    return WebhookDelivery.objects.filter(organization=organization)


def delivery_get(*, organization: Organization, delivery_id: int | str) -> WebhookDelivery:
    pk = _as_id(delivery_id)
    delivery = None if pk is None else delivery_list(organization=organization).filter(pk=pk).first()
    if delivery is None:
        raise WebhookNotFound("Webhook delivery not found.", details={"id": str(delivery_id)})
    return delivery
