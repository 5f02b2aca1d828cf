"""POST /api/events/: Standard Webhooks signatures checked, the event stored before the answer, once per message id."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection

from events.models import EventSource, InboundEvent
from events.sources import event_source_rotate_secret
from tests.events.sender import send, signed, signed_text, stale

pytestmark = pytest.mark.django_db

USER_DELETED = {"type": "user.deleted", "timestamp": "2026-05-01T09:30:00Z", "data": {"user_id": "u_1"}}


def test_a_signed_event_is_stored_and_a_worker_nudged_after_commit(source, nudges,
                                                                    django_capture_on_commit_callbacks):
    src, secret = source
    body, headers = signed(secret, USER_DELETED, msg_id="msg_1")
    with django_capture_on_commit_callbacks(execute=True):
        answer = send(src.key, body, headers)

    assert answer.status_code == 202, answer.json()
    event = InboundEvent.objects.get()
    assert answer.json() == {"id": event.pk, "status": "pending", "duplicate": False}
    assert (event.event_id, event.event_type, bytes(event.body), event.organization_id) == (
        "msg_1", "user.deleted", body, src.organization_id)
    assert str(event.remote_ip) == "203.0.113.9"
    assert nudges == [event.pk]
    assert EventSource.objects.get(pk=src.pk).last_received_at is not None


def test_the_same_message_three_times_is_one_event(source, nudges, django_capture_on_commit_callbacks):
    src, secret = source
    body, headers = signed(secret, USER_DELETED, msg_id="msg_again")
    with django_capture_on_commit_callbacks(execute=True):
        answers = [send(src.key, body, headers) for _ in range(3)]

    assert [a.status_code for a in answers] == [202, 200, 200]
    assert {a.json()["id"] for a in answers} == {InboundEvent.objects.get().pk}
    assert [a.json()["duplicate"] for a in answers] == [False, True, True]
    assert len(nudges) == 1


@pytest.mark.parametrize("forge", ["wrong secret", "tampered body", "stale", "future", "no signature",
                                   "unknown source", "inactive source"])
def test_a_forged_or_stale_event_is_refused_and_nothing_stored(source, nudges, forge):
    src, secret = source
    other_secret = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODk="
    at = {"stale": stale(6), "future": datetime.now(tz=UTC) + timedelta(minutes=6)}.get(forge)
    body, headers = signed(other_secret if forge == "wrong secret" else secret, USER_DELETED, at=at)
    key = src.key
    if forge == "tampered body":
        body = body.replace(b"u_1", b"u_2")
    elif forge == "no signature":
        headers.pop("webhook-signature")
    elif forge == "unknown source":
        key = "evs_000000000000000000000000"
    elif forge == "inactive source":
        EventSource.objects.filter(pk=src.pk).update(is_active=False)

    answer = send(key, body, headers)

    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "INVALID_SIGNATURE"
    assert not InboundEvent.objects.exists() and nudges == []


def test_an_unknown_event_type_is_stored_as_ignored(source, nudges, django_capture_on_commit_callbacks):
    src, secret = source
    with django_capture_on_commit_callbacks(execute=True):
        answer = send(src.key, *signed(secret, {"type": "invoice.paid", "data": {"id": 7}}))

    assert answer.status_code == 202 and answer.json()["status"] == "ignored"
    event = InboundEvent.objects.get()
    assert event.status == "ignored" and event.processed_at is not None and nudges == []


@pytest.mark.parametrize("payload", [b"not json", b"[1, 2]", b'{"data": {}}', b'{"type": "", "data": {}}',
                                     b'{"type": "user.deleted", "data": [1]}'])
def test_a_signed_body_that_is_not_an_event_is_400_and_not_stored(source, payload):
    src, secret = source
    answer = send(src.key, *signed_text(secret, payload.decode()))
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "VALIDATION_ERROR"
    assert not InboundEvent.objects.exists()


def test_a_body_over_the_limit_is_413(source, settings):
    settings.WEBHOOK_MAX_BODY_BYTES = 100
    src, secret = source
    answer = send(src.key, *signed(secret, {"type": "user.deleted", "data": {"user_id": "u" * 200}}))
    assert answer.status_code == 413 and answer.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert not InboundEvent.objects.exists()


def test_after_a_rotation_both_secrets_verify_for_a_day(source, nudges):
    src, old = source
    new = event_source_rotate_secret(source=src)
    assert new != old and new.startswith("whsec_")

    assert send(src.key, *signed(old, USER_DELETED)).status_code == 202
    assert send(src.key, *signed(new, USER_DELETED)).status_code == 202
    with time_machine.travel(datetime.now(tz=UTC) + timedelta(hours=25), tick=False):
        assert send(src.key, *signed(old, USER_DELETED)).status_code == 401
        assert send(src.key, *signed(new, USER_DELETED)).status_code == 202


def test_the_secret_is_encrypted_at_rest(source):
    src, secret = source
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM events_eventsource WHERE id = %s", [src.pk])
        stored = cursor.fetchone()[0]
    assert stored.startswith("enc1:") and secret not in stored
