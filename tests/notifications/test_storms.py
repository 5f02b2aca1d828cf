"""A failing sync tells Slack once, however often it fails, and once more when it works again (issue 21).

The sync runs for real (syncjobs.services with the fake shop of tests/syncjobs); its events reach the
notifications app through the one publisher; the notices go out through the beat's sender, to Slack's
chat.postMessage answered by `responses` — whose request bodies are compared whole.
"""

from __future__ import annotations

import json

import pytest
import responses
from django.utils import timezone

from notifications import tasks
from notifications.models import Condition, Notice, NoticeKind, NoticeStatus
from syncjobs import services
from syncjobs.models import JobStatus, JobType, Trigger
from tests.connectors.support import Recorded
from tests.notifications.conftest import CHANNEL, POST_MESSAGE
from tests.syncjobs import fakes

pytestmark = pytest.mark.django_db
slack_answers = Recorded("slack")

ALERT = {
    "channel": CHANNEL,
    "text": ":rotating_light: Sync orders failed for Fake Shop (fake-shop)",
    "blocks": [
        {"type": "header", "text": {"type": "plain_text", "emoji": True,
                                    "text": ":rotating_light: Sync orders failed for Fake Shop (fake-shop)"}},
        {"type": "section", "text": {"type": "mrkdwn",
                                     "text": "PROVIDER_ERROR: The provider refused the request."}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": "*Integration*\nFake Shop (fake-shop)"},
                                       {"type": "mrkdwn", "text": "*Job*\n#{job} sync_orders"}]},
        {"type": "actions", "elements": [
            {"type": "button", "text": {"type": "plain_text", "text": "Open in Switchyard"},
             "url": "http://testserver.example/admin/integrations/integration/{iid}/change/"}]},
    ],
}


def resolved(iid: int) -> dict:
    title = ":white_check_mark: Resolved: Sync orders failed for Fake Shop (fake-shop)"
    return {
        "channel": CHANNEL,
        "text": title,
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "emoji": True, "text": title}},
            {"type": "section", "text": {"type": "mrkdwn", "text": "Cleared after 50 occurrences."}},
            {"type": "actions", "elements": [
                {"type": "button", "text": {"type": "plain_text", "text": "Open in Switchyard"},
                 "url": f"http://testserver.example/admin/integrations/integration/{iid}/change/"}]},
        ],
    }


def run_sync(channel, writer, *, fail: bool):
    job = services.sync_job_start(integration=channel, trigger=Trigger.API, job_type=JobType.SYNC_ORDERS)
    fakes.SHOP.fail_at.clear()
    if fail:
        fakes.SHOP.fail_at[("orders", 0)] = fakes.permanent()
    return services.sync_job_run(job_id=job.pk, writers=writer.writers())


def sent_bodies() -> list[dict]:
    return [json.loads(call.request.body) for call in responses.calls]


@pytest.fixture(autouse=True)
def public_url(settings):
    settings.PUBLIC_BASE_URL = "http://testserver.example"


@responses.activate
def test_fifty_failures_send_one_message_and_the_next_success_one_resolved(rule, channel, shop, writer):
    slack_answers.replay("POST", POST_MESSAGE, "chat_postMessage__ok")
    first = run_sync(channel, writer, fail=True)
    assert first.status == JobStatus.FAILED
    assert tasks.send_due_notices() == 1

    expected = json.loads(json.dumps(ALERT).replace("{job}", str(first.pk)).replace("{iid}", str(channel.pk)))
    assert sent_bodies() == [expected]
    assert responses.calls[0].request.headers["Authorization"] == "Bearer xoxb-test-token-0001"

    for _ in range(49):
        assert run_sync(channel, writer, fail=True).status == JobStatus.FAILED
        tasks.send_due_notices()
    assert len(responses.calls) == 1  # still the one message
    condition = Condition.objects.get(rule=rule)
    assert condition.occurrences == 50 and condition.cleared_at is None
    assert Notice.objects.filter(rule=rule, status=NoticeStatus.SUPPRESSED).count() == 49
    assert Notice.objects.filter(rule=rule, status=NoticeStatus.SENT).count() == 1

    assert run_sync(channel, writer, fail=False).status == JobStatus.COMPLETED
    assert tasks.send_due_notices() == 1
    assert sent_bodies()[1:] == [resolved(channel.pk)]
    condition.refresh_from_db()
    assert condition.cleared_at is not None
    done = Notice.objects.get(rule=rule, kind=NoticeKind.RESOLVED)
    assert done.status == NoticeStatus.SENT and done.provider_message_id == "1503435956.000247"

    # Another success clears nothing more; a new failure is a new condition and a new message.
    run_sync(channel, writer, fail=False)
    run_sync(channel, writer, fail=True)
    tasks.send_due_notices()
    assert len(responses.calls) == 3 and sent_bodies()[2]["text"] == expected["text"]
    assert Condition.objects.filter(rule=rule, cleared_at__isnull=True).count() == 1


@responses.activate
def test_a_rule_for_other_triggers_or_an_inactive_rule_sends_nothing(rule, channel, shop, writer):
    rule.triggers = ["inventory.low_stock"]
    rule.save()
    run_sync(channel, writer, fail=True)
    rule.triggers, rule.is_active = ["sync_job.failed"], False
    rule.save()
    run_sync(channel, writer, fail=True)
    assert tasks.send_due_notices() == 0
    assert len(responses.calls) == 0 and not Notice.objects.exists()


@responses.activate
def test_a_refused_channel_fails_the_notice_with_the_reason_and_is_not_retried(rule, channel, shop, writer):
    slack_answers.replay("POST", POST_MESSAGE, "chat_postMessage__channel_not_found")
    run_sync(channel, writer, fail=True)
    tasks.send_due_notices()
    notice = Notice.objects.get(rule=rule)
    assert notice.status == NoticeStatus.FAILED and "channel_not_found" in notice.error
    assert tasks.send_due_notices() == 0 and len(responses.calls) == 1


@responses.activate
def test_slack_down_is_retried_with_backoff_then_sent(rule, channel, shop, writer, settings):
    settings.PROVIDER_MAX_RETRIES, settings.NOTIFY_RETRY_BASE_SECONDS = 0, 30
    responses.add("POST", POST_MESSAGE, status=503, json={"ok": False, "error": "service_unavailable"})
    run_sync(channel, writer, fail=True)
    tasks.send_due_notices()
    notice = Notice.objects.get(rule=rule)
    assert notice.status == NoticeStatus.DEFERRED and notice.attempts == 1 and "503" in notice.error
    assert 25 <= (notice.deliver_after - timezone.now()).total_seconds() <= 31

    responses.replace("POST", POST_MESSAGE, json=slack_answers("chat_postMessage__ok")["body"])
    assert tasks.send_due_notices() == 0  # not due yet
    Notice.objects.filter(pk=notice.pk).update(deliver_after=timezone.now())
    assert tasks.send_due_notices() == 1
    notice.refresh_from_db()
    assert notice.status == NoticeStatus.SENT and notice.attempts == 2


def test_the_sender_is_nudged_only_once_the_change_commits(rule, channel, shop, writer, monkeypatch,
                                                           django_capture_on_commit_callbacks):
    sent: list[tuple] = []
    monkeypatch.setattr(tasks.send_rule_notices, "apply_async", lambda args, **kw: sent.append(args))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        run_sync(channel, writer, fail=True)
    assert sent == [] and Notice.objects.get(rule=rule).status == NoticeStatus.PENDING
    for callback in callbacks:
        callback()
    assert sent == [(rule.pk,)]
