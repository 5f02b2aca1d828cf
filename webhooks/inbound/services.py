"""Incoming webhooks: receive (verify, store, answer), then process exactly once, retry, sweep.

Receiving. The signature is checked on the raw bytes before anything else
(an unsigned request leaves one IntegrationLog row without its body, and
nothing more). The row is written in its own transaction and only then does the
view answer 2xx: no 2xx for anything not durably stored. A Celery message is
sent after commit as a nudge; if the broker is down the error is logged and the
answer is still 202 — the sweeper finds the row. A redelivery of a provider
event id already stored hits the (integration, external_id) unique constraint,
so concurrent identical posts end with one row, and each gets that row's id.
Where the event id is not signed (Shopify), a delivery whose scheme fingerprint
(schemes.py) was stored within WEBHOOK_SHOPIFY_REPLAY_WINDOW_HOURS is that
delivery again, whatever id it carries: the check and the insert run under a
transaction-scoped lock on the fingerprint (PostgreSQL), so two racing replays
also end with one row.

Processing (processing.py) claims the row with a lease and runs the handler in one transaction with
the row's final status, so a crash commits neither; see that module for the
exactly-once argument.

Where the pieces live: the verifier comes from the integration's connector
(`connector.verify_webhook` when the connector overrides it, else the scheme
named by `connector.webhook_scheme`, see schemes.py); the secret is the
integration's encrypted `webhook_secret`; a generic HMAC integration reads its
header/encoding/prefix from `config["webhook"]`.
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
from django.urls import reverse
from django.utils import timezone

from config.broker import nudge
from config.errors import ApplicationError, InvalidSignature
from connectors import registry
from connectors.base import Connector
from connectors.redaction import Redactor
from integrations.models import Integration, IntegrationLog, LogDirection
from integrations.payloads import integration_summary
from webhooks.models import IncomingStatus, IncomingWebhook

from . import schemes

logger = logging.getLogger(__name__)

ERROR_LIMIT = 2000  # characters of an error message kept on the row


@dataclass(frozen=True)
class Receipt:
    """What a receive did: `created` False means `webhook` is the row an earlier delivery stored."""

    webhook: IncomingWebhook
    created: bool


def receive_url(integration: Integration) -> str:
    """Where providers deliver an integration's webhooks: PUBLIC_BASE_URL + `/api/webhooks/receive/<route_key>/`.

    What a connector's `register_webhooks` subscribes (and eBay's challenge hashes), so it must be the
    address exactly as the provider calls it: behind a proxy, PUBLIC_BASE_URL is the public origin. The route
    key, not the code: codes are unique only within an organization.
    """
    return settings.PUBLIC_BASE_URL.rstrip("/") + reverse("webhook-receive",
                                                          kwargs={"route_key": integration.route_key})


# ---------------------------------------------------------------- verifying


def _overrides(connector: Connector, method: str) -> bool:
    return getattr(type(connector), method) is not getattr(Connector, method)


def integration_webhook_options(integration: Integration) -> Mapping[str, Any]:
    options = (integration.config or {}).get("webhook")
    return options if isinstance(options, Mapping) else {}


def webhook_verify(connector: Connector, headers: Mapping[str, str], body: bytes) -> bool:
    """Whether the delivery is signed by the integration: the connector's own check, else its scheme's.

    A connector with neither cannot receive webhooks: nothing it is sent verifies.
    """
    if _overrides(connector, "verify_webhook"):
        return bool(connector.verify_webhook(headers, body))
    scheme = schemes.get(connector.webhook_scheme)
    if scheme is None:
        return False
    integration = connector.integration
    return scheme.check(headers, body, [integration.webhook_secret], integration_webhook_options(integration),
                        tolerance=settings.WEBHOOK_SIGNATURE_TOLERANCE_SECONDS)


def _signature(connector: Connector, headers: Mapping[str, str]) -> str:
    """The signature as sent, for the record: the scheme's header, else the first known signature header present."""
    options = integration_webhook_options(connector.integration)
    scheme = schemes.get(connector.webhook_scheme)
    candidates = [scheme] if scheme else []
    candidates += [s for s in schemes.SCHEMES.values() if s is not scheme]
    return next((value for value in (s.signature(headers, options) for s in candidates) if value), "")


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
    """A provider's check of its receive URL (eBay's challenge, WooCommerce's ping, Meta's hub.challenge).

    Asked before any signature check; it stores nothing. The connector's `webhook_handshake`, else its scheme's
    (schemes.py). None: no handshake, the request is a delivery (or refused). The answer is (HTTP status,
    body): a str body is sent as text/plain, anything else as JSON.
    """
    answer = connector.webhook_handshake(method, headers, query, body)
    scheme = schemes.get(connector.webhook_scheme)
    if answer is None and scheme is not None and scheme.handshake is not None:
        answer = scheme.handshake(method, headers, query, body, connector.integration)
    return answer


# ---------------------------------------------------------------- identifying


def _identify(connector: Connector, headers: Mapping[str, str], body: bytes) -> tuple[str, str, str]:
    """(event type, provider event id, failure reason): a signed body we cannot read is stored, marked failed."""
    try:
        payload = json.loads(body)
    except ValueError as exc:
        return "", "", f"The body is not valid JSON: {exc}"
    scheme = schemes.get(connector.webhook_scheme)
    event_type, external_id = "", ""
    if scheme is not None:
        event_type, external_id = scheme.identify(headers, body, payload,
                                                  integration_webhook_options(connector.integration))
    if _overrides(connector, "parse_webhook"):
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
    verified = [(i, c) for i, c in ((i, registry.connector_for(i)) for i in integrations)
                if webhook_verify(c, headers, body)]
    if not verified:
        reason = "The signature is missing or does not match."
        _log_rejection(integrations[0], path=path, headers=headers, body_size=len(body), remote_ip=remote_ip,
                       reason=reason)
        raise InvalidSignature()
    integration, connector = verified[0]
    return _store(integration, connector, headers=headers, body=body, remote_ip=remote_ip)


def _fingerprint(connector: Connector, headers: Mapping[str, str], body: bytes) -> str:
    scheme = schemes.get(connector.webhook_scheme)
    return scheme.fingerprint(headers, body) if scheme is not None and scheme.fingerprint is not None else ""


def _earlier_delivery(integration: Integration, fingerprint: str, now) -> IncomingWebhook | None:
    """The row of the same signed delivery within the replay window, under a lock held until commit."""
    if connection.vendor == "postgresql":
        key = int.from_bytes(hashlib.sha256(f"{integration.pk}:{fingerprint}".encode()).digest()[:8], "big",
                             signed=True)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])
    since = now - timedelta(hours=settings.WEBHOOK_SHOPIFY_REPLAY_WINDOW_HOURS)
    return (IncomingWebhook.objects.filter(integration=integration, fingerprint=fingerprint, received_at__gte=since)
            .order_by("received_at", "pk").first())


def _store(integration: Integration, connector: Connector, *, headers: Mapping[str, str], body: bytes,
           remote_ip: str | None) -> Receipt:
    event_type, external_id, failure = _identify(connector, headers, body)
    fingerprint = _fingerprint(connector, headers, body)
    now = timezone.now()
    webhook = IncomingWebhook(
        integration=integration, organization_id=integration.organization_id, event_type=event_type[:128],
        source=integration.provider[:64], external_id=external_id[:255], body=body,
        headers=Redactor.for_integration(integration).headers(headers), remote_ip=remote_ip,
        status=IncomingStatus.FAILED if failure else IncomingStatus.PENDING,
        max_retries=settings.WEBHOOK_INCOMING_MAX_RETRIES, next_attempt_at=None if failure else now,
        nudged_at=None if failure else now,  # its nudge goes after commit (webhook_enqueue unmarks a failed send)
        processed_at=now if failure else None, error_message=failure[:ERROR_LIMIT],
        signature=_signature(connector, headers), signature_verified=True, fingerprint=fingerprint,
        received_at=now,
    )
    try:
        with transaction.atomic():
            earlier = _earlier_delivery(integration, fingerprint, now) if fingerprint else None
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
    from webhooks.events import publish

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
