"""Notices from events: a condition opens once (later sightings are suppressed), its clearing sends "resolved".

`event_heard` is the subscriber integrations/events.py calls, in the publisher's transaction: the rows it writes
commit with the change that caused them, and the sender is nudged only after that commit (the rows are the queue
of record; beat's sweep sends whatever a lost nudge left). Rules are edited through `rule_create`/`rule_update`.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import Organization
from config.broker import nudge_on_commit
from config.errors import ValidationError
from connectors import registry
from connectors.base import Capability
from integrations.models import Integration

from .models import Condition, Notice, NoticeKind, NoticeStatus, NotificationRule, TriggerKind
from .schedule import delivery_time
from .triggers import CLEAR, INFO, OPEN, Reading, reading

logger = logging.getLogger(__name__)


# ---------------------------------------------------------------- events → conditions → notices
def event_heard(event_type: str, payload: dict[str, Any], organization: Organization,
                integration: Integration | None) -> None:
    readings = reading(event_type, payload)
    if not readings:
        return
    now = timezone.now()
    clears = [r for r in readings if r.action == CLEAR]
    if clears:
        conditions_clear(organization=organization, keys=[r.key for r in clears], now=now)
    others = [r for r in readings if r.action != CLEAR]
    if not others:
        return
    for rule in rules_for(organization=organization, triggers={r.trigger for r in others}):
        for found in others:
            if found.trigger in rule.triggers:
                reading_apply(rule=rule, found=found, now=now)


def rules_for(*, organization: Organization, triggers: set[str]) -> list[NotificationRule]:
    rules = NotificationRule.objects.filter(organization=organization, is_active=True).select_related("integration")
    return [rule for rule in rules if set(rule.triggers or []) & triggers]


def reading_apply(*, rule: NotificationRule, found: Reading, now: datetime) -> Notice:
    """Open the reading's condition (one alert), or count a sighting of the open one (a suppressed notice)."""
    message = {"title": found.title[:300], "text": found.text, "facts": [list(f) for f in found.facts],
               "link": found.link}
    if found.action == INFO:
        return notice_create(rule=rule, condition=None, trigger=found.trigger, kind=NoticeKind.INFO, now=now,
                             **message)
    if found.action != OPEN:
        raise ValueError(f"A {found.action!r} reading opens nothing; conditions_clear clears.")
    condition = Condition.objects.filter(rule=rule, key=found.key, cleared_at__isnull=True).first()
    if condition is None:
        try:
            with transaction.atomic():
                condition = Condition.objects.create(
                    rule=rule, trigger=found.trigger, key=found.key, opened_at=now, last_seen_at=now,
                    subject={**found.subject, "title": message["title"], "link": found.link})
        except IntegrityError:  # opened at this instant by another publisher: this one is the duplicate
            condition = Condition.objects.get(rule=rule, key=found.key, cleared_at__isnull=True)
        else:
            return notice_create(rule=rule, condition=condition, trigger=found.trigger, kind=NoticeKind.ALERT,
                                 now=now, **message)
    Condition.objects.filter(pk=condition.pk).update(occurrences=F("occurrences") + 1, last_seen_at=now)
    return Notice.objects.create(
        organization_id=rule.organization_id, rule=rule, condition=condition, trigger=found.trigger,
        kind=NoticeKind.ALERT, status=NoticeStatus.SUPPRESSED, deliver_after=now, created_at=now,
        error=f"Duplicate: condition open since {condition.opened_at:%Y-%m-%d %H:%M:%S %Z}.", **message)


def conditions_clear(*, organization: Organization, keys: list[str], now: datetime | None = None,
                     triggers: set[str] | None = None) -> list[Notice]:
    """Clear the organization's open conditions with these keys; one "resolved" notice each."""
    now = now or timezone.now()
    open_ = Condition.objects.filter(rule__organization=organization, key__in=keys, cleared_at__isnull=True)
    if triggers:
        open_ = open_.filter(trigger__in=triggers)
    return [condition_clear(condition=c, now=now) for c in open_.select_related("rule")]


def condition_clear(*, condition: Condition, now: datetime) -> Notice | None:
    cleared = Condition.objects.filter(pk=condition.pk, cleared_at__isnull=True).update(cleared_at=now)
    if not cleared:
        return None
    subject = condition.subject or {}
    return notice_create(
        rule=condition.rule, condition=condition, trigger=condition.trigger, kind=NoticeKind.RESOLVED, now=now,
        title=f"Resolved: {subject.get('title') or condition.key}"[:300],
        text=f"Cleared after {condition.occurrences} occurrence{'s' if condition.occurrences != 1 else ''}.",
        facts=[], link=str(subject.get("link") or ""))


def notice_create(*, rule: NotificationRule, condition: Condition | None, trigger: str, kind: str, now: datetime,
                  title: str, text: str, facts: list, link: str) -> Notice:
    """A notice to send: now (the sender is nudged after commit), or deferred by quiet hours or the digest."""
    when, reason = delivery_time(rule, now)
    notice = Notice.objects.create(
        organization_id=rule.organization_id, rule=rule, condition=condition, trigger=trigger, kind=kind,
        status=NoticeStatus.DEFERRED if when > now else NoticeStatus.PENDING, title=title, text=text,
        facts=facts, link=link, deliver_after=when, deferred_reason=reason, created_at=now)
    if notice.status == NoticeStatus.PENDING:
        from .tasks import send_rule_notices

        nudge_on_commit(send_rule_notices, args=(rule.pk,))
    return notice


# ---------------------------------------------------------------- rules
RULE_FIELDS = ("name", "triggers", "integration", "target", "quiet_hours_start", "quiet_hours_end", "timezone",
               "digest_minutes", "stuck_after_hours", "is_active")


def rule_validate(organization: Organization, data: dict[str, Any], rule: NotificationRule | None) -> dict[str, Any]:
    """`data` checked against the rule it changes (or a new one); ValidationError naming each bad field."""
    current = {name: getattr(rule, name) for name in RULE_FIELDS} if rule else {}
    merged = {**current, **data}
    errors: dict[str, list[str]] = {}
    triggers = merged.get("triggers") or []
    unknown = sorted(set(triggers) - set(TriggerKind.values)) if isinstance(triggers, list) else ["?"]
    if not isinstance(triggers, list) or not triggers or unknown:
        errors["triggers"] = [f"Name at least one of {', '.join(TriggerKind.values)}."
                              + (f" Unknown: {', '.join(unknown)}." if unknown else "")]
    integration = merged.get("integration")
    if isinstance(integration, int):
        integration = Integration.objects.filter(organization=organization, pk=integration).first()
        if integration is None:
            errors["integration"] = ["No such integration in this organization."]
    if isinstance(integration, Integration):
        if integration.organization_id != organization.pk:
            errors["integration"] = ["No such integration in this organization."]
        elif not registry.is_registered(integration.provider) or \
                not registry.supports(integration.provider, Capability.NOTIFY):
            errors["integration"] = [f"{integration.code} cannot send notices (its provider has no notify "
                                     "capability)."]
    target = str(merged.get("target") or "").strip()
    if integration is None:
        addresses = [a.strip() for a in target.split(",") if a.strip()]
        try:
            if not addresses:
                raise DjangoValidationError("empty")
            for address in addresses:
                validate_email(address)
        except DjangoValidationError:
            errors["target"] = ["Without an integration the notices go by SMTP: list the addresses, "
                                "comma-separated."]
    if (merged.get("quiet_hours_start") is None) != (merged.get("quiet_hours_end") is None):
        errors["quiet_hours_end"] = ["Give both ends of the quiet hours, or neither."]
    try:
        ZoneInfo(str(merged.get("timezone") or "UTC"))
    except (ZoneInfoNotFoundError, ValueError):
        errors["timezone"] = ["Not an IANA time zone (e.g. Europe/Bucharest)."]
    if errors:
        raise ValidationError(details=errors)
    return {**data, **({"integration": integration} if "integration" in data else {}),
            **({"target": target} if "target" in data else {})}


def rule_create(*, organization: Organization, **data: Any) -> NotificationRule:
    data = rule_validate(organization, data, None)
    return NotificationRule.objects.create(organization=organization, **data)


def rule_update(*, rule: NotificationRule, data: dict[str, Any]) -> NotificationRule:
    data = rule_validate(rule.organization, data, rule)
    for name, value in data.items():
        setattr(rule, name, value)
    rule.save()
    return rule
