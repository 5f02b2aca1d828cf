"""Incoming webhooks: receive (verify, store, answer), then process exactly once, retry, sweep.

Receiving. The signature is checked on the raw bytes before anything else
(an unsigned request leaves one IntegrationLog row without its body, and
nothing more). The row is written in its own transaction and only then does the
view answer 2xx: no 2xx for anything not durably stored. A Celery message is
sent after commit as a nudge; if the broker is down the error is logged and the
answer is still 202 — the sweeper finds the row. A redelivery of a provider
event id already stored hits the (integration, external_id) unique constraint,
so concurrent identical posts end with one row, and each gets that row's id.
Where the event id is not signed, a delivery whose fingerprint (the connector's
`webhook_fingerprint`, connectors/schemes.py) was stored within the connector's
`webhook_replay_window()` is that delivery again, whatever id it carries: the
check and the insert run under a transaction-scoped lock on the fingerprint
(PostgreSQL), so two racing replays also end with one row.

Processing (processing.py) claims the row with a lease and runs the handler in one transaction with
the row's final status, so a crash commits neither; see that module for the
exactly-once argument.

Where the pieces live: everything provider-specific is asked of the
integration's connector, a `WebhookReceiver` (connectors/capabilities.py):
verify, identify, parse, fingerprint, the signature to record, the handshake.
Its defaults follow the scheme it declares (connectors/schemes.py, or its own
in `connectors/<provider>/webhooks.py`); the secret is the integration's
encrypted `webhook_secret`. A connector that is no receiver verifies nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from config.broker import nudge
from config.errors import ApplicationError, InvalidSignature
from connectors import registry
from connectors.base import Connector
from connectors.capabilities import WebhookReceiver
from connectors.redaction import Redactor
from integrations.events import publish
from integrations.models import Integration, IntegrationLog, LogDirection
from integrations.payloads import integration_summary
from integrations.selectors import integration_receive_url
from webhooks.models import IncomingStatus, IncomingWebhook

logger = logging.getLogger(__name__)

ERROR_LIMIT = 2000  # characters of an error message kept on the row


@dataclass(frozen=True)
class Receipt:
    """What a receive did: `created` False means `webhook` is the row an earlier delivery stored."""

    webhook: IncomingWebhook
    created: bool


def _receiver(integration: Integration) -> WebhookReceiver | None:
    connector = registry.connector_for(integration)
    return connector if isinstance(connector, WebhookReceiver) else None


def _log_rejection(integration: Integration, *, path: str, headers: Mapping[str, str], body_size: int,
                   remote_ip: str | None, reason: str) -> None:
    """One inbound IntegrationLog row for a refused delivery: redacted headers and the body's size, never the body."""
    try:
        IntegrationLog.objects.create(
            integration=integration, organization_id=integration.organization_id, action="webhook_rejected",
            direction=LogDirection.INBOUND, method="POST", endpoint=path[:1000],
            request={"headers": Redactor.for_integration(integration).headers(headers), "body_bytes": body_size},
            status_code=401, error_message=reason, metadata={"remote_ip": remote_ip},
        )
    except Exception as exc:  # noqa: BLE001 - the 401 matters more than its log line
        logger.warning("IntegrationLog row for a rejected webhook not written: %s", type(exc).__name__)


def webhook_handshake(connector: Connector, *, method: str, headers: Mapping[str, str], query: Mapping[str, str],
                      body: bytes) -> tuple[int, Any] | None:
    """A provider's check of its receive URL (a challenge, a creation ping), asked of the connector.

    Asked before any signature check; it stores nothing. None: no handshake, the request is a delivery (or
    refused). The answer is (HTTP status, body): a str body is sent as text/plain, anything else as JSON.
    """
    if not isinstance(connector, WebhookReceiver):
        return None
    return connector.webhook_handshake(method, headers, query, body,
                                       receive_url=integration_receive_url(connector.integration))


# ---------------------------------------------------------------- identifying


def _identify(connector: WebhookReceiver, headers: Mapping[str, str], body: bytes) -> tuple[str, str, str]:
    """(event type, provider event id, failure reason): a signed body we cannot read is stored, marked failed."""
    try:
        payload = json.loads(body)
    except ValueError as exc:
        return "", "", f"The body is not valid JSON: {exc}"
    event_type, external_id = connector.identify_webhook(headers, body, payload)
    try:
        events = connector.parse_webhook(headers, body)
    except (ApplicationError, ValueError) as exc:
        return event_type, external_id, str(getattr(exc, "message", exc))
    if events:
        event_type = events[0].event_type
        if len(events) == 1 or len({e.external_id for e in events}) == 1:
            external_id = events[0].external_id
    return event_type, external_id, ""


# ---------------------------------------------------------------- receiving


def webhook_receive(
    *,
    integrations: Sequence[Integration],
    headers: Mapping[str, str],
    body: bytes,
    remote_ip: str | None = None,
    path: str = "",
) -> Receipt:
    """Verify against the candidates (the first whose secret verifies wins), store, and nudge a worker.

    `integrations` is the one integration the route key or the claimed account routes to (views.py); several are
    tried in order, never chosen among by guessing. Raises InvalidSignature (after logging it against the
    first candidate).
    """
    verified = [(i, c) for i, c in ((i, _receiver(i)) for i in integrations)
                if c is not None and c.verify_webhook(headers, body)]
    if not verified:
        reason = "The signature is missing or does not match."
        _log_rejection(integrations[0], path=path, headers=headers, body_size=len(body), remote_ip=remote_ip,
                       reason=reason)
        raise InvalidSignature()
    integration, connector = verified[0]
    return _store(integration, connector, headers=headers, body=body, remote_ip=remote_ip)


def _earlier_delivery(integration: Integration, fingerprint: str, window: timedelta, now) -> IncomingWebhook | None:
    """The row of the same signed delivery within the replay window, under a lock held until commit."""
    if connection.vendor == "postgresql":
        key = int.from_bytes(hashlib.sha256(f"{integration.pk}:{fingerprint}".encode()).digest()[:8], "big",
                             signed=True)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])
    return (IncomingWebhook.objects.filter(integration=integration, fingerprint=fingerprint,
                                           received_at__gte=now - window)
            .order_by("received_at", "pk").first())


def _store(integration: Integration, connector: WebhookReceiver, *, headers: Mapping[str, str], body: bytes,
           remote_ip: str | None) -> Receipt:
    event_type, external_id, failure = _identify(connector, headers, body)
    fingerprint = connector.webhook_fingerprint(headers, body)
    now = timezone.now()
    webhook = IncomingWebhook(
        integration=integration, organization_id=integration.organization_id, event_type=event_type[:128],
        source=integration.provider[:64], external_id=external_id[:255], body=body,
        headers=Redactor.for_integration(integration).headers(headers), remote_ip=remote_ip,
        status=IncomingStatus.FAILED if failure else IncomingStatus.PENDING,
        max_retries=settings.WEBHOOK_INCOMING_MAX_RETRIES, next_attempt_at=None if failure else now,
        nudged_at=None if failure else now,  # its nudge goes after commit (webhook_enqueue unmarks a failed send)
        processed_at=now if failure else None, error_message=failure[:ERROR_LIMIT],
        signature=connector.webhook_signature(headers)[:512], signature_verified=True, fingerprint=fingerprint,
        received_at=now,
    )
    try:
        with transaction.atomic():
            earlier = (_earlier_delivery(integration, fingerprint, connector.webhook_replay_window(), now)
                       if fingerprint else None)
            if earlier is not None:
                return Receipt(earlier, created=False)
            webhook.save(force_insert=True)
            if failure:
                publish_failed(webhook)
            else:
                transaction.on_commit(partial(webhook_enqueue, webhook.pk))
    except IntegrityError:
        existing = IncomingWebhook.objects.filter(integration=integration, external_id=webhook.external_id).first()
        if not webhook.external_id or existing is None:
            raise
        return Receipt(existing, created=False)
    return Receipt(webhook, created=True)


def webhook_enqueue(webhook_id: int, *, countdown: float | None = None) -> bool:
    """Send the processing nudge, best effort (config/broker.py); False when it was not sent.

    The caller has marked the row (`nudged_at`) in the transaction that made it
    pending: a marked row's message is on its way, and the sweeper leaves it
    alone for WEBHOOK_INCOMING_NUDGE_TTL_SECONDS however long the queue ahead of
    it is. A send that fails unmarks the row, so the sweeper sends it again
    after WEBHOOK_INCOMING_SWEEP_AFTER_SECONDS: a dead broker costs a request
    nothing and loses nothing.
    """
    from .tasks import process_incoming_webhook

    options: dict[str, Any] = {}
    if countdown:
        options["countdown"] = countdown
    if settings.WEBHOOK_INCOMING_QUEUE:
        options["queue"] = settings.WEBHOOK_INCOMING_QUEUE
    sent = nudge(process_incoming_webhook, (webhook_id,), **options)
    if not sent:
        IncomingWebhook.objects.filter(pk=webhook_id, status=IncomingStatus.PENDING).update(nudged_at=None)
    return sent


def publish_failed(webhook: IncomingWebhook) -> None:
    """`webhook.failed` to the organization's endpoints, in the caller's transaction."""
    integration = webhook.integration
    publish(
        "webhook.failed",
        {
            "integration": integration_summary(integration),
            "incoming_webhook": {"id": webhook.pk, "event_type": webhook.event_type, "error": webhook.error_message},
        },
        integration.organization,
        integration=integration,
    )


# ---------------------------------------------------------------- retry, replay


RETRYABLE = (IncomingStatus.FAILED,)
REPLAYABLE = (IncomingStatus.COMPLETED, IncomingStatus.FAILED, IncomingStatus.IGNORED)


def webhooks_requeue(*, webhook_ids: Iterable[int], statuses: Sequence[str]) -> list[int]:
    """Put the rows among `webhook_ids` whose status is in `statuses` back to pending (fresh retries); nudge each.

    Rows in other statuses are left alone (a pending or processing row is
    queued already). Returns the ids re-queued.
    """
    ids = list(webhook_ids)
    now = timezone.now()
    with transaction.atomic():
        requeued = list(
            IncomingWebhook.objects.select_for_update()
            .filter(pk__in=ids, status__in=list(statuses))
            .values_list("pk", flat=True)
        )
        IncomingWebhook.objects.filter(pk__in=requeued).update(
            status=IncomingStatus.PENDING, retry_count=0, next_attempt_at=now, nudged_at=now, locked_until=None,
            processed_at=None, error_message="", updated_at=now,
        )
        for pk in requeued:
            transaction.on_commit(partial(webhook_enqueue, pk))
    return requeued


def webhook_retry(*, webhook: IncomingWebhook) -> IncomingWebhook:
    """Retry one failed webhook from scratch. Raises WebhookNotRetryable for any other status."""
    from .errors import WebhookNotRetryable

    if not webhooks_requeue(webhook_ids=[webhook.pk], statuses=RETRYABLE):
        webhook.refresh_from_db(fields=["status"])
        raise WebhookNotRetryable(details={"status": webhook.status})
    webhook.refresh_from_db()
    return webhook


def webhook_delete(*, webhook: IncomingWebhook) -> None:
    """Delete the row. A worker processing it then fails its lease check and commits nothing."""
    webhook.delete()
