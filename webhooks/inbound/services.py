"""Incoming webhooks: receive (verify, store, answer), then process exactly once, retry, sweep.

Receiving. The signature is checked on the raw bytes before anything else
(an unsigned request leaves one IntegrationLog row without its body, and
nothing more). The row is written, and committed, before the view answers
2xx: no 2xx for anything not durably stored. A delivery deduplicated by the
provider's event id alone (no replay window, nothing failed) is one statement
in autocommit, `INSERT … ON CONFLICT DO NOTHING RETURNING id`, conditioned on
the cached integration being unchanged (route_cache.py); a redelivery of a
stored event id meets the (integration, external_id) unique constraint, so
concurrent identical posts end with one row, and each gets that row's id.
Where the event id is not signed, a delivery whose fingerprint (the connector's
`webhook_fingerprint`, connectors/schemes.py) was stored within the connector's
`webhook_replay_window()` is that delivery again, whatever id it carries: the
check and the insert run in one transaction under a lock on the fingerprint
(PostgreSQL), so two racing replays also end with one row.

The processing message is a nudge, and it is not sent in the request: the row
is the queue. The row is marked in its INSERT (`nudged_at`), its id handed to
the process's BatchedNudges (config/broker.py), whose thread sends the ids of
many requests as one `process_incoming_webhooks` message per
WEBHOOK_INCOMING_NUDGE_BATCH_SECONDS. Chosen over PostgreSQL LISTEN/NOTIFY
(PostgreSQL only, while `make run` is SQLite and the filesystem broker; every
NOTIFY serialises commits on one queue lock; and a worker would need a
listening connection besides Celery) and over a short-poll claim loop (every
idle worker querying the table several times a second, latency = the poll):
the batch keeps the worker a plain Celery consumer on either broker, costs the
broker one message per interval per web process whatever the request rate, and
a failed send unmarks the batch's rows so the sweeper re-sends them. A web
process killed in the few milliseconds between a row's commit and its batch's
send leaves the row marked with no message: the sweeper takes it up after
WEBHOOK_INCOMING_NUDGE_TTL_SECONDS (a process that exits normally sends first).

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
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property, partial
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from config.broker import BatchedNudges, nudge
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

from .route_cache import Route
from .row_insert import incoming_insert

logger = logging.getLogger(__name__)

ERROR_LIMIT = 2000  # characters of an error message kept on the row


@dataclass(frozen=True)
class Receipt:
    """What a receive did: `created` False means the row is the one an earlier delivery stored.

    The answer needs only the row's id and status; `webhook`, the row as a model instance, is made when asked
    for (the receive path stores from plain values and never asks)."""

    webhook_id: int
    status: str
    created: bool
    instance: Callable[[], IncomingWebhook]

    @classmethod
    def of(cls, webhook: IncomingWebhook, *, created: bool) -> Receipt:
        return cls(webhook.pk, webhook.status, created, lambda: webhook)

    @cached_property
    def webhook(self) -> IncomingWebhook:
        return self.instance()


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


class StaleRoute(Exception):
    """The integration changed (or went) since the route was cached: resolve it again and verify again."""


def webhook_receive_route(*, route: Route, headers: Mapping[str, str], body: bytes, remote_ip: str | None = None,
                          path: str = "") -> Receipt:
    """`webhook_receive` for the integration of a cached route (route_cache.py): its connector and redactor are
    the cached ones, and the row is stored only if the integration is still the one cached (else StaleRoute)."""
    integration, connector = route.integration, route.receiver
    if connector is None or not connector.verify_webhook(headers, body):
        reason = "The signature is missing or does not match."
        _log_rejection(integration, path=path, headers=headers, body_size=len(body), remote_ip=remote_ip,
                       reason=reason)
        raise InvalidSignature()
    return _store(integration, connector, headers=headers, body=body, remote_ip=remote_ip, redactor=route.redactor,
                  cached=True)


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
           remote_ip: str | None, redactor: Redactor | None = None, cached: bool = False) -> Receipt:
    event_type, external_id, failure = _identify(connector, headers, body)
    fingerprint = connector.webhook_fingerprint(headers, body)
    redactor = redactor or Redactor.for_integration(integration)
    now = timezone.now()
    row = {  # the columns, by attname; the rest take their defaults
        "integration_id": integration.pk, "organization_id": integration.organization_id,
        "event_type": event_type[:128], "source": integration.provider[:64], "external_id": external_id[:255],
        "body": body, "headers": redactor.headers(headers), "remote_ip": remote_ip,
        "status": IncomingStatus.FAILED if failure else IncomingStatus.PENDING,
        "max_retries": settings.WEBHOOK_INCOMING_MAX_RETRIES, "next_attempt_at": None if failure else now,
        "nudged_at": None if failure else now,  # its nudge goes after commit (webhook_enqueue unmarks a failed send)
        "processed_at": now if failure else None, "error_message": failure[:ERROR_LIMIT],
        "signature": connector.webhook_signature(headers)[:512], "signature_verified": True,
        "fingerprint": fingerprint, "received_at": now, "updated_at": now,
    }
    if not failure and not fingerprint:
        return _store_one_statement(integration, row, version=integration.updated_at if cached else None)
    webhook = IncomingWebhook(integration=integration, **{k: v for k, v in row.items() if k != "integration_id"})
    if cached and not Integration.objects.filter(pk=integration.pk, updated_at=integration.updated_at).exists():
        raise StaleRoute()  # the rare paths (a replay check, a failed row) check the cached integration apart
    try:
        with transaction.atomic():
            earlier = (_earlier_delivery(integration, fingerprint, connector.webhook_replay_window(), now)
                       if fingerprint else None)
            if earlier is not None:
                return Receipt.of(earlier, created=False)
            webhook.save(force_insert=True)
            if failure:
                publish_failed(webhook)
            else:
                transaction.on_commit(partial(incoming_nudges.add, webhook.pk))
    except IntegrityError:
        existing = IncomingWebhook.objects.filter(integration=integration, external_id=webhook.external_id).first()
        if not webhook.external_id or existing is None:
            raise
        return Receipt.of(existing, created=False)
    return Receipt.of(webhook, created=True)


# ---------------------------------------------------------------- one statement


def _store_one_statement(integration: Integration, row: dict[str, Any], *, version) -> Receipt:
    """Store a webhook whose provider event id is its deduplication (no replay window, nothing failed): the row
    is its own transaction, one statement (row_insert.py), and answers for itself (no other transaction around
    it). No model instance is made unless the receipt's `webhook` is asked for."""
    pk = incoming_insert(row, version=version)
    if pk is not None:
        transaction.on_commit(partial(incoming_nudges.add, pk))
        return Receipt(pk, row["status"], True, partial(_instance, integration, row, pk))
    existing = (IncomingWebhook.objects.filter(integration_id=integration.pk, external_id=row["external_id"])
                .first() if row["external_id"] else None)
    if existing is not None:
        return Receipt.of(existing, created=False)
    if version is not None:
        raise StaleRoute()
    raise IntegrityError("incoming webhook not stored: its integration is gone")


def _instance(integration: Integration, row: dict[str, Any], pk: int) -> IncomingWebhook:
    webhook = IncomingWebhook(integration=integration, **{k: v for k, v in row.items() if k != "integration_id"})
    webhook.pk = pk
    return webhook


def _send_batch(webhook_ids: list[int]) -> bool:
    """One processing message for rows stored by this process's requests (BatchedNudges in config/broker.py).

    The rows were marked in their INSERT (`nudged_at`): a batch that cannot be sent unmarks them, so that the
    sweeper sends them after WEBHOOK_INCOMING_SWEEP_AFTER_SECONDS.
    """
    from .tasks import process_incoming_webhooks

    options = {"queue": settings.WEBHOOK_INCOMING_QUEUE} if settings.WEBHOOK_INCOMING_QUEUE else {}
    sent = nudge(process_incoming_webhooks, (webhook_ids,), **options)
    if not sent:
        IncomingWebhook.objects.filter(pk__in=webhook_ids, status=IncomingStatus.PENDING).update(nudged_at=None)
    return sent


incoming_nudges = BatchedNudges(_send_batch, lambda: settings.WEBHOOK_INCOMING_NUDGE_BATCH_SECONDS)


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
