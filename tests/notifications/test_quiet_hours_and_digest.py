"""Quiet hours defer notices (never drop them) and a digest batches a rule's notices into one message."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import responses
import time_machine

from integrations.events import publish
from notifications import tasks
from notifications.models import Notice, NoticeKind, NoticeStatus, TriggerKind
from notifications.schedule import in_quiet_hours
from tests.connectors.support import Recorded
from tests.notifications.conftest import POST_MESSAGE

pytestmark = pytest.mark.django_db
slack_answers = Recorded("slack")
BUCHAREST = ZoneInfo("Europe/Bucharest")


def sync_failed(org, integration, job_id: int, job_type: str = "sync_orders") -> None:
    publish("sync_job.failed", {"integration": {"id": integration.pk, "code": integration.code,
                                                "provider": integration.provider, "name": integration.name},
                                "sync_job": {"id": job_id, "job_type": job_type, "error": "PROVIDER_ERROR: 503"}},
            org, integration)


def synced(org, integration, job_type: str = "sync_orders") -> None:
    publish("integration.synced", {"integration": {"id": integration.pk, "code": integration.code,
                                                   "provider": integration.provider, "name": integration.name},
                                   "sync_job": {"id": 99, "job_type": job_type}}, org, integration)


@pytest.mark.parametrize(("start", "end", "now", "quiet"), [
    (time(22), time(7), time(23, 30), True), (time(22), time(7), time(6, 59), True),
    (time(22), time(7), time(7), False), (time(22), time(7), time(12), False),
    (time(12), time(14), time(13), True), (time(12), time(14), time(14), False), (None, None, time(3), False),
])
def test_quiet_hours_window(start, end, now, quiet):
    assert in_quiet_hours(start, end, now) is quiet


@responses.activate
def test_quiet_hours_defer_to_their_end_in_the_rules_zone(org, rule, channel):
    rule.quiet_hours_start, rule.quiet_hours_end, rule.timezone = time(22), time(7), "Europe/Bucharest"
    rule.save()
    slack_answers.replay("POST", POST_MESSAGE, "chat_postMessage__ok")
    night = datetime(2026, 5, 1, 23, 30, tzinfo=BUCHAREST)
    with time_machine.travel(night, tick=False):
        sync_failed(org, channel, 1)
        assert tasks.send_due_notices() == 0
    notice = Notice.objects.get()
    assert notice.status == NoticeStatus.DEFERRED
    assert notice.deliver_after == datetime(2026, 5, 2, 7, 0, tzinfo=BUCHAREST)
    assert "quiet hours until 07:00 Europe/Bucharest" in notice.deferred_reason
    with time_machine.travel(datetime(2026, 5, 2, 6, 59, tzinfo=BUCHAREST), tick=False):
        assert tasks.send_due_notices() == 0
    assert len(responses.calls) == 0
    with time_machine.travel(datetime(2026, 5, 2, 7, 0, 30, tzinfo=BUCHAREST), tick=False):
        assert tasks.send_due_notices() == 1
    notice.refresh_from_db()
    assert notice.status == NoticeStatus.SENT and len(responses.calls) == 1


@responses.activate
def test_a_digest_batches_the_rules_notices_into_one_message(org, rule, channel, slack):
    rule.digest_minutes, rule.triggers = 15, [TriggerKind.SYNC_FAILED, TriggerKind.LOW_STOCK]
    rule.save()
    slack_answers.replay("POST", POST_MESSAGE, "chat_postMessage__ok")
    start = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False):
        sync_failed(org, channel, 1, "sync_orders")
    with time_machine.travel(start + timedelta(minutes=5), tick=False):
        sync_failed(org, channel, 2, "sync_products")
        publish("inventory.low_stock", {"product": {"id": 5, "sku": "TSHIRT-M"}, "location": "main", "on_hand": 3,
                                        "reserved": 0, "available": 3, "low_stock_threshold": 5}, org)
        synced(org, channel, "sync_orders")
        assert tasks.send_due_notices() == 0
    waiting = Notice.objects.filter(status=NoticeStatus.DEFERRED)
    assert waiting.count() == 4 and {n.deliver_after for n in waiting} == {start + timedelta(minutes=15)}
    with time_machine.travel(start + timedelta(minutes=15), tick=False):
        assert tasks.send_due_notices() == 4
    assert len(responses.calls) == 1
    body = json.loads(responses.calls[0].request.body)
    assert body["text"] == ":bookmark_tabs: Switchyard digest: 4 notices (3 alerts, 1 resolved)"
    assert [b["text"]["text"].split("\n")[0] for b in body["blocks"][1:]] == [
        ":rotating_light: *Sync orders failed for Fake Shop (fake-shop)*",
        ":rotating_light: *Sync products failed for Fake Shop (fake-shop)*",
        ":rotating_light: *Low stock: TSHIRT-M at main*",
        ":white_check_mark: *Resolved: Sync orders failed for Fake Shop (fake-shop)*",
    ]
    digest = Notice.objects.get(kind=NoticeKind.DIGEST)
    assert digest.status == NoticeStatus.SENT
    assert set(Notice.objects.filter(digest=digest).values_list("status", flat=True)) == {NoticeStatus.IN_DIGEST}
