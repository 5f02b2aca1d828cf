"""Reads of incoming webhooks, always scoped to one organization (another's row is simply not found)."""

from __future__ import annotations

import json
from typing import Any

from django.db.models import QuerySet

from accounts.models import Organization
from config.errors import WebhookNotFound
from connectors.redaction import Redactor
from webhooks.models import IncomingWebhook


def incoming_webhook_list(*, organization: Organization) -> QuerySet[IncomingWebhook]:
    """The organization's webhooks, newest first, without their bodies (a list never needs them)."""
    return (
        IncomingWebhook.objects.filter(organization=organization)
        .select_related("integration")
        .defer("body", "headers", "metadata")
    )


def incoming_webhook_get(*, organization: Organization, webhook_id: int | str) -> IncomingWebhook:
    try:
        pk = int(webhook_id)
    except (TypeError, ValueError):
        pk = 0
    webhook = (
        IncomingWebhook.objects.filter(organization=organization, pk=pk).select_related("integration").first()
        if pk > 0 else None
    )
    if webhook is None:
        raise WebhookNotFound(details={"id": str(webhook_id)})
    return webhook


def incoming_webhook_payload(webhook: IncomingWebhook) -> Any:
    """The body for people to read: parsed JSON (or the text) with secrets masked by name and by value."""
    redactor = Redactor.for_integration(webhook.integration)
    raw = bytes(webhook.body or b"")
    try:
        return redactor.data(json.loads(raw))
    except ValueError:
        return redactor.text(raw.decode("utf-8", errors="replace"))


def incoming_webhook_headers(webhook: IncomingWebhook) -> dict[str, str]:
    """Stored headers are redacted when received; masked again here in case the integration's secrets changed."""
    return Redactor.for_integration(webhook.integration).headers(webhook.headers or {})
