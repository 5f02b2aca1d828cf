"""When a notice may go: quiet hours (it waits for their end, never dropped) and digests (batched by rule)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from .models import WAITING, Notice, NotificationRule


def in_quiet_hours(start: time | None, end: time | None, local: time) -> bool:
    if start is None or end is None or start == end:
        return False
    if start < end:
        return start <= local < end
    return local >= start or local < end  # overnight, e.g. 22:00–07:00


def quiet_hours_end(rule: NotificationRule, now: datetime) -> datetime | None:
    """The end of the quiet hours `now` falls in (an aware datetime), or None when `now` is not quiet."""
    zone = ZoneInfo(rule.timezone or "UTC")
    local = now.astimezone(zone)
    if not in_quiet_hours(rule.quiet_hours_start, rule.quiet_hours_end, local.time()):
        return None
    end = datetime.combine(local.date(), rule.quiet_hours_end, tzinfo=zone)
    if end <= local:
        end = datetime.combine(local.date() + timedelta(days=1), rule.quiet_hours_end, tzinfo=zone)
    return end


def delivery_time(rule: NotificationRule, now: datetime) -> tuple[datetime, str]:
    """(not before, why it waits): now, the end of the quiet hours, or the rule's open digest's send time."""
    when, reasons = now, []
    if rule.digest_minutes:
        batch = (Notice.objects.filter(rule=rule, status__in=WAITING, attempts=0, deliver_after__gt=now)
                 .order_by("deliver_after").values_list("deliver_after", flat=True).first())
        when = batch or now + timedelta(minutes=rule.digest_minutes)
        reasons.append(f"digest of {rule.digest_minutes} min")
    quiet_end = quiet_hours_end(rule, when)
    if quiet_end is not None:
        when = quiet_end
        reasons.append(f"quiet hours until {rule.quiet_hours_end:%H:%M} {rule.timezone}")
    return when, "; ".join(reasons)
