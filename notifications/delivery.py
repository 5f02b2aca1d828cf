"""Sending due notices of one rule: claimed under a lease, sent outside any transaction, outcome recorded.

A rule with a digest sends what is due as one message (the items are marked `in_digest` and point at it); any
other sends each notice. A transient failure (the provider down or rate limiting past what connectors/http.py
waits out, an SMTP outage) puts the notice back with a backoff; a permanent one (refused token, unknown channel,
no SMTP configured) fails it with the reason. The HTTP client already retried the call itself.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from config.claims import claimable
from config.errors import ApplicationError, ValidationError
from connectors import registry
from connectors.base import Capability
from connectors.capabilities import NoticeMessage
from connectors.errors import is_transient

from .models import WAITING, Notice, NoticeKind, NoticeStatus, NotificationRule

logger = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)
BATCH = 50  # notices of one rule claimed per pass (a digest carries at most this many)
ERROR_LIMIT = 1000


def message_of(notice: Notice) -> NoticeMessage:
    return NoticeMessage(title=notice.title, text=notice.text, state=notice.kind,
                         facts=tuple((str(a), str(b)) for a, b in notice.facts or []), link=notice.link)


def digest_message(notices: list[Notice]) -> NoticeMessage:
    alerts = sum(1 for n in notices if n.kind == NoticeKind.ALERT)
    resolved = sum(1 for n in notices if n.kind == NoticeKind.RESOLVED)
    title = f"Switchyard digest: {len(notices)} notices ({alerts} alerts, {resolved} resolved)"
    return NoticeMessage(title=title, text="", state=NoticeKind.DIGEST,
                         items=tuple(message_of(n) for n in notices))


def channel_send(rule: NotificationRule, message: NoticeMessage) -> str:
    """Send through the rule's integration (its connector's `send_notice`), or SMTP; the provider's message id."""
    if rule.integration_id is not None:
        integration = rule.integration
        if not registry.supports(integration.provider, Capability.NOTIFY):
            raise ValidationError(f"{integration.code} cannot send notices.")
        return registry.connector_for(integration).send_notice(message, target=rule.target)
    if not settings.EMAIL_HOST:
        raise ValidationError("No integration is named and SMTP is not configured (EMAIL_HOST is empty).")
    addresses = [a.strip() for a in rule.target.split(",") if a.strip()]
    send_mail(f"[Switchyard] {message.headline}", message.as_text(), None, addresses)
    return ""


def _claim(rule_id: int, now: datetime) -> list[Notice]:
    with transaction.atomic():
        due = list(claimable(
            Notice.objects.filter(rule_id=rule_id, status__in=WAITING, deliver_after__lte=now)
            .filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now)).order_by("created_at", "id")
        )[:BATCH])
        Notice.objects.filter(pk__in=[n.pk for n in due]).update(locked_until=now + LEASE)
    return due


def notices_send_due(*, rule_id: int, now: datetime | None = None) -> int:
    """Send what of the rule is due; how many notices went out (a digest counts its items)."""
    now = now or timezone.now()
    due = _claim(rule_id, now)
    if not due:
        return 0
    rule = NotificationRule.objects.select_related("integration").get(pk=rule_id)
    if rule.digest_minutes and len(due) > 1:
        return _send_digest(rule, due)
    sent = 0
    for notice in due:
        sent += _send_one(rule, notice)
    return sent


def _send_one(rule: NotificationRule, notice: Notice) -> int:
    try:
        message_id = channel_send(rule, message_of(notice))
    except Exception as exc:  # noqa: BLE001 - every failure is recorded on the row
        _failed([notice], exc)
        return 0
    Notice.objects.filter(pk=notice.pk).update(status=NoticeStatus.SENT, sent_at=timezone.now(), locked_until=None,
                                               attempts=notice.attempts + 1, provider_message_id=message_id[:200],
                                               error="")
    return 1


def _send_digest(rule: NotificationRule, due: list[Notice]) -> int:
    message = digest_message(due)
    try:
        message_id = channel_send(rule, message)
    except Exception as exc:  # noqa: BLE001 - every failure is recorded on the rows
        _failed(due, exc)
        return 0
    now = timezone.now()
    with transaction.atomic():
        digest = Notice.objects.create(
            organization_id=rule.organization_id, rule=rule, kind=NoticeKind.DIGEST, status=NoticeStatus.SENT,
            title=message.title[:300], text=message.as_text(), deliver_after=now, sent_at=now, attempts=1,
            provider_message_id=message_id[:200], created_at=now)
        Notice.objects.filter(pk__in=[n.pk for n in due]).update(
            status=NoticeStatus.IN_DIGEST, digest=digest, sent_at=now, locked_until=None, error="")
    return len(due)


def _failed(notices: list[Notice], exc: BaseException) -> None:
    """Back to waiting with a backoff while the failure is transient and attempts remain; else failed."""
    reason = (exc.message if isinstance(exc, ApplicationError) else f"{type(exc).__name__}: {exc}")[:ERROR_LIMIT]
    transient = is_transient(exc) or not isinstance(exc, ApplicationError)  # SMTP and socket errors: retry
    now = timezone.now()
    for notice in notices:
        attempts = notice.attempts + 1
        if transient and attempts < settings.NOTIFY_MAX_ATTEMPTS:
            wait = settings.NOTIFY_RETRY_BASE_SECONDS * 2 ** (attempts - 1)
            retry_after = getattr(exc, "retry_after", None)
            if retry_after:
                wait = max(wait, float(retry_after))
            Notice.objects.filter(pk=notice.pk).update(
                status=NoticeStatus.DEFERRED, attempts=attempts, locked_until=None, error=reason,
                deliver_after=now + timedelta(seconds=wait), deferred_reason=f"retry {attempts} after: {reason}"[:200])
        else:
            Notice.objects.filter(pk=notice.pk).update(status=NoticeStatus.FAILED, attempts=attempts,
                                                       locked_until=None, error=reason)
    logger.warning("notices %s of rule %s failed (%s): %s", [n.pk for n in notices], notices[0].rule_id,
                   "will retry" if transient else "permanent", reason)


def rules_with_due_notices(*, now: datetime | None = None) -> list[int]:
    now = now or timezone.now()
    return list(Notice.objects.filter(status__in=WAITING, deliver_after__lte=now)
                .filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now))
                .values_list("rule_id", flat=True).distinct().order_by("rule_id"))
