"""Exactly once: one worker claims an event, a failure retries with backoff, the sweeper takes back a dead worker's."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from events import handlers
from events.models import InboundEvent
from events.processing import LEASE_EXPIRED, event_claim, event_process, events_requeue, events_sweep
from tests.events.sender import send, signed

pytestmark = pytest.mark.django_db


@pytest.fixture
def stored(source, nudges) -> InboundEvent:
    src, secret = source
    send(src.key, *signed(secret, {"type": "user.deleted", "data": {"user_id": "u_404"}}))
    return InboundEvent.objects.get()


def test_only_one_worker_claims_an_event(stored):
    assert event_claim(stored.pk) is not None
    assert event_claim(stored.pk) is None
    assert event_process(event_id=stored.pk) is None  # held by the first: the second does nothing
    assert InboundEvent.objects.get(pk=stored.pk).status == "processing"


def test_a_finished_event_is_not_processed_again(stored):
    assert event_process(event_id=stored.pk) == "completed"
    assert event_process(event_id=stored.pk) is None
    assert InboundEvent.objects.get(pk=stored.pk).result == {"user_id": "u_404", "removed": []}


def test_a_transient_failure_is_retried_with_backoff_then_fails(stored, nudges, monkeypatch, settings,
                                                                django_capture_on_commit_callbacks):
    settings.WEBHOOK_INCOMING_MAX_RETRIES = 1
    InboundEvent.objects.filter(pk=stored.pk).update(max_retries=1)

    def broken(event, data, still_ours):
        raise ConnectionError("provider unreachable")

    monkeypatch.setitem(handlers.HANDLERS, "user.deleted", handlers.Handler(broken, atomic=False))
    with django_capture_on_commit_callbacks(execute=True):
        assert event_process(event_id=stored.pk) == "pending"
    row = InboundEvent.objects.get(pk=stored.pk)
    assert row.retry_count == 1 and row.next_attempt_at > timezone.now() and "unreachable" in row.error_message
    assert nudges == [stored.pk]

    InboundEvent.objects.filter(pk=stored.pk).update(next_attempt_at=timezone.now())
    assert event_process(event_id=stored.pk) == "failed"
    assert InboundEvent.objects.get(pk=stored.pk).status == "failed"

    assert events_requeue(event_ids=[stored.pk]) == [stored.pk]
    assert InboundEvent.objects.get(pk=stored.pk).status == "pending"


def test_the_sweeper_takes_back_a_dead_workers_event_and_nudges_lost_ones(stored, nudges,
                                                                          django_capture_on_commit_callbacks):
    token = event_claim(stored.pk)
    assert token is not None
    later = timezone.now() + timedelta(hours=1)
    with django_capture_on_commit_callbacks(execute=True):
        result = events_sweep(now=later)
    assert (result.reclaimed, result.exhausted) == (1, 0)
    row = InboundEvent.objects.get(pk=stored.pk)
    assert (row.status, row.retry_count, row.error_message) == ("pending", 1, LEASE_EXPIRED)
    assert nudges == [stored.pk]

    # A pending event whose nudge was lost is nudged again once it waited past the grace period.
    with django_capture_on_commit_callbacks(execute=True):
        assert events_sweep(now=later + timedelta(minutes=5)).requeued == 1
    assert nudges == [stored.pk, stored.pk]
