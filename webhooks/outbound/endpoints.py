"""Services for webhook endpoints and their deliveries: create, change, rotate, disable, test, redeliver, recover.

The API, the admin and the tasks call these; nothing else writes endpoints.
Secrets are returned to the caller once (create, rotate) and never logged.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from accounts.models import Membership, Organization, Role
from config.broker import nudge, nudge_on_commit
from config.errors import ValidationError
from integrations.events import publish
from integrations.models import Integration

from ..events import ALL_EVENTS, CATALOG, PING, envelope, new_event_id, nudge_dispatcher
from ..models import DeliveryStatus, WebhookDelivery, WebhookEndpoint, WebhookNotice
from . import signing
from .delivery import check_endpoint_url

logger = logging.getLogger(__name__)

ROTATION_OVERLAP = timedelta(hours=24)
RECOVER_MAX_WINDOW = timedelta(days=31)
ENDPOINT_DISABLED = "endpoint.disabled"
UPDATABLE_FIELDS = frozenset({"url", "events", "integration", "description", "is_active"})


def _clean_events(events: Any) -> list[str]:
    if not isinstance(events, list) or not events:
        raise ValidationError(details={"events": ['Name at least one event type, or "*" for all.']})
    unknown = sorted({e for e in events if e != ALL_EVENTS and e not in CATALOG})
    if unknown:
        raise ValidationError(
            details={"events": [f"Unknown event type {e!r}; see /api/webhook-endpoints/event-types/." for e in unknown]}
        )
    return list(dict.fromkeys(events))


def _clean_integration(organization: Organization, integration: Integration | int | None) -> Integration | None:
    if integration is None:
        return None
    pk = integration.pk if isinstance(integration, Integration) else integration
    found = Integration.objects.filter(organization=organization, pk=pk).first()
    if found is None:
        raise ValidationError(details={"integration": ["No such integration in this organization."]})
    return found


def endpoint_create(
    *,
    organization: Organization,
    url: str,
    events: list[str],
    integration: Integration | int | None = None,
    description: str = "",
) -> tuple[WebhookEndpoint, str]:
    """Create an endpoint with a new secret; return it and the secret (the only time it is returned in full)."""
    check_endpoint_url(url)
    secret = signing.secret_generate()
    endpoint = WebhookEndpoint.objects.create(
        organization=organization, url=url, events=_clean_events(events),
        integration=_clean_integration(organization, integration), description=description, secret=secret,
    )
    return endpoint, secret


def endpoint_update(*, endpoint: WebhookEndpoint, data: dict[str, Any]) -> WebhookEndpoint:
    """Change url, events, integration, description or is_active; re-enabling clears the disabled state."""
    unknown = set(data) - UPDATABLE_FIELDS
    if unknown:
        raise ValidationError(details={name: ["This field cannot be changed."] for name in sorted(unknown)})
    if "url" in data:
        check_endpoint_url(data["url"])
        endpoint.url = data["url"]
    if "events" in data:
        endpoint.events = _clean_events(data["events"])
    if "integration" in data:
        endpoint.integration = _clean_integration(endpoint.organization, data["integration"])
    if "description" in data:
        endpoint.description = data["description"]
    if "is_active" in data and data["is_active"] != endpoint.is_active:
        endpoint.is_active = data["is_active"]
        if endpoint.is_active:
            endpoint.disabled_reason, endpoint.failing_since = "", None
        else:
            endpoint.disabled_reason = "Disabled by a user."
    endpoint.save()
    if "is_active" in data and not endpoint.is_active:
        _fail_pending(endpoint, "Endpoint disabled by a user.")
    return endpoint


def endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    endpoint.delete()


def endpoint_rotate_secret(*, endpoint: WebhookEndpoint) -> str:
    """A new secret; the old one keeps signing alongside it for 24 h so receivers can switch. Returns the new one."""
    secret = signing.secret_generate()
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = timezone.now() + ROTATION_OVERLAP
    endpoint.secret = secret
    endpoint.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at", "updated_at"])
    return secret


# ---------------------------------------------------------------- disabling


def _fail_pending(endpoint: WebhookEndpoint, reason: str) -> int:
    """Deliveries still waiting on a disabled endpoint fail now (recover re-sends them once it is fixed)."""
    return WebhookDelivery.objects.filter(
        endpoint=endpoint, status__in=[DeliveryStatus.PENDING, DeliveryStatus.RETRYING]
    ).update(status=DeliveryStatus.FAILED, error=reason, locked_until=None, updated_at=timezone.now())


def endpoint_disable(*, endpoint: WebhookEndpoint, reason: str, notify: bool = False) -> WebhookEndpoint:
    """Stop sending to the endpoint, fail what waits for it, and (notify) tell the organization's owners."""
    with transaction.atomic():
        # Delivery rows first, the endpoint row last: the order the dispatcher takes them in.
        _fail_pending(endpoint, f"Endpoint disabled: {reason}")
        changed = WebhookEndpoint.objects.filter(pk=endpoint.pk, is_active=True).update(
            is_active=False, disabled_reason=reason[:255], updated_at=timezone.now()
        )
        endpoint.refresh_from_db()
        if changed and notify:
            publish(ENDPOINT_DISABLED, {"endpoint": {"id": endpoint.pk, "url": endpoint.url,
                                                     "events": endpoint.events}, "reason": reason},
                    endpoint.organization, endpoint.integration)
            owners_notify(
                organization=endpoint.organization, endpoint=endpoint, kind=ENDPOINT_DISABLED,
                message=f"Webhook endpoint {endpoint.url} (#{endpoint.pk}) was disabled. {reason}",
            )
    return endpoint


def endpoint_disable_if_failing_too_long(*, endpoint_id: int, now: datetime | None = None) -> bool:
    """Disable an endpoint that has failed with no success for WEBHOOK_DISABLE_AFTER_DAYS; True if it was."""
    now = now or timezone.now()
    days = settings.WEBHOOK_DISABLE_AFTER_DAYS
    endpoint = WebhookEndpoint.objects.filter(pk=endpoint_id, is_active=True, failing_since__isnull=False).first()
    if endpoint is None or now - endpoint.failing_since < timedelta(days=days):
        return False
    if endpoint.last_success_at is not None and endpoint.last_success_at >= endpoint.failing_since:
        return False
    endpoint_disable(
        endpoint=endpoint, notify=True,
        reason=f"No successful delivery for {days} days (failing since {endpoint.failing_since:%Y-%m-%d %H:%M} UTC).",
    )
    return True


def owners_notify(
    *, organization: Organization, endpoint: WebhookEndpoint | None, kind: str, message: str
) -> WebhookNotice:
    """Tell the organization's owners: a log line, a WebhookNotice in the admin, and an email if EMAIL_HOST is set."""
    emails: list[str] = []
    if settings.EMAIL_HOST:
        emails = sorted(
            {e for e in Membership.objects.filter(organization=organization, role=Role.OWNER)
             .values_list("user__email", flat=True) if e}
        )
    notice = WebhookNotice.objects.create(
        organization=organization, endpoint=endpoint, kind=kind, message=message, emailed_to=emails
    )
    logger.warning("%s organization=%s notice=%s: %s", kind, organization.slug, notice.pk, message)
    if emails:
        def _send() -> None:
            try:
                send_mail(f"[Switchyard] {kind}: {organization.name}", message, None, emails)
            except Exception:  # noqa: BLE001 - the notice and the log line stand; a mail outage must not undo them
                logger.exception("Could not email the %s notice %s", kind, notice.pk)

        transaction.on_commit(_send)
    return notice


# ---------------------------------------------------------------- sending by hand


def endpoint_send_test(*, endpoint: WebhookEndpoint) -> WebhookDelivery:
    """Queue a `ping` to the endpoint whatever it subscribes to, and send it after commit."""
    from ..tasks import deliver

    data = {"endpoint": {"id": endpoint.pk}, "message": "Switchyard test event"}
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint, organization=endpoint.organization, event=PING, event_id=new_event_id(),
        payload=envelope(PING, data),
    )
    nudge_on_commit(deliver, (delivery.pk,))  # not sent: the dispatcher's sweep sends the pending row
    return delivery


def _requeue(queryset, *, now: datetime) -> int:
    return queryset.update(
        status=DeliveryStatus.PENDING, next_attempt_at=now, round_attempts=0, locked_until=None, updated_at=now
    )


def delivery_redeliver(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a delivery again now, with a fresh retry schedule (delivered ones too: the receiver asked)."""
    from ..tasks import deliver

    if not WebhookEndpoint.objects.filter(pk=delivery.endpoint_id, is_active=True).exists():
        raise ValidationError("The endpoint is disabled; enable it first.", details={"endpoint": ["disabled"]})
    _requeue(WebhookDelivery.objects.filter(pk=delivery.pk), now=timezone.now())
    nudge_on_commit(deliver, (delivery.pk,))
    delivery.refresh_from_db()
    return delivery


def recover_window_check(*, since: datetime, until: datetime | None) -> tuple[datetime, datetime]:
    now = timezone.now()
    until = until or now
    if since >= until:
        raise ValidationError(details={"since": ["Must be before until."]})
    if until - since > RECOVER_MAX_WINDOW:
        raise ValidationError(details={"since": [f"The window may span at most {RECOVER_MAX_WINDOW.days} days."]})
    return since, until


def endpoint_request_recover(*, endpoint: WebhookEndpoint, since: datetime, until: datetime | None) -> int:
    """Check the window, count what it holds, and re-send it in the background (recover_endpoint task)."""
    from ..tasks import recover_endpoint

    if not endpoint.is_active:
        raise ValidationError("The endpoint is disabled; enable it first.", details={"endpoint": ["disabled"]})
    since, until = recover_window_check(since=since, until=until)
    count = _failed_in_window(endpoint, since, until).count()
    endpoint_id = endpoint.pk

    def _send() -> None:
        # No row stands behind this message: when the broker cannot take it, do the re-queue here (one UPDATE).
        if not nudge(recover_endpoint, (endpoint_id, since.isoformat(), until.isoformat())):
            endpoint_recover(endpoint_id=endpoint_id, since=since, until=until)

    transaction.on_commit(_send)
    return count


def _failed_in_window(endpoint: WebhookEndpoint, since: datetime, until: datetime):
    return WebhookDelivery.objects.filter(
        endpoint=endpoint, status=DeliveryStatus.FAILED, created_at__gte=since, created_at__lt=until
    )


def endpoint_recover(*, endpoint_id: int, since: datetime, until: datetime) -> int:
    """Queue every failed delivery of the endpoint created in [since, until) again; safe to run twice."""
    endpoint = WebhookEndpoint.objects.filter(pk=endpoint_id, is_active=True).first()
    if endpoint is None:
        return 0
    with transaction.atomic():
        count = _requeue(_failed_in_window(endpoint, since, until), now=timezone.now())
        if count:
            nudge_dispatcher()
    logger.info("Recovered %s failed deliveries of endpoint %s", count, endpoint_id)
    return count
