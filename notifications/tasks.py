"""Background work for notifications. Tasks take ids and are safe to run twice: the Notice rows are the queue.

`send_rule_notices(rule_id)` is the nudge sent after a notice commits; `send_due_notices` (beat, every minute)
sends what quiet hours, digests and retry backoffs held back, and anything a lost nudge left;
`check_conditions` (beat) opens and clears the conditions no event reports (checks.py).
"""

from __future__ import annotations

from celery import shared_task

from . import checks, delivery


@shared_task(ignore_result=True)
def send_rule_notices(rule_id: int) -> int:
    return delivery.notices_send_due(rule_id=rule_id)


@shared_task(ignore_result=True)
def send_due_notices() -> int:
    return sum(delivery.notices_send_due(rule_id=rule_id) for rule_id in delivery.rules_with_due_notices())


@shared_task(ignore_result=True)
def check_conditions() -> dict[str, int]:
    return checks.check_conditions()
