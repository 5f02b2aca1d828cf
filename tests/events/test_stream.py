"""Events from a Redis stream (events/stream.py), against the real Redis: stored once whatever the redeliveries,
acknowledged only once stored, forgeries set aside; the same rows (and so handlers) as the HTTP intake."""

from __future__ import annotations

import os
import uuid

import pytest
import redis
from django.core.management import call_command
from django.db import OperationalError

from events.intake import event_receive
from events.models import InboundEvent, InboundEventStatus
from events.stream import EventStream
from tests.events.sender import send, signed, signed_text, stale

pytestmark = [pytest.mark.django_db, pytest.mark.redis]


@pytest.fixture
def client():
    connection = redis.Redis.from_url(os.environ["REDIS_URL"])
    yield connection
    connection.close()


@pytest.fixture
def stream(client, settings):
    name = f"test-events-{uuid.uuid4().hex}"
    settings.EVENTS_REDIS_STREAM, settings.REDIS_URL = name, os.environ["REDIS_URL"]
    consumer = EventStream(client, stream=name, group="switchyard", consumer="test-consumer")
    consumer.ensure_group()
    consumer.ensure_group()  # a second start finds the group there
    yield consumer
    client.delete(name, f"{name}:rejected")


def publish(client, stream, source_key: str, body: bytes, headers: dict[str, str]) -> str:
    return client.xadd(stream.stream, {"source": source_key, "body": body, **headers}).decode()


def pending(client, stream) -> int:
    return client.xpending(stream.stream, stream.group)["pending"]


def user_deleted(secret, **options):
    return signed(secret, {"type": "user.deleted", "data": {"user_id": "u_1"}}, **options)


def test_an_event_published_three_times_is_stored_once_and_every_entry_acknowledged(
        client, stream, source, nudges, django_capture_on_commit_callbacks):
    src, secret = source
    body, headers = user_deleted(secret, msg_id="msg_stream_1")
    entries = [publish(client, stream, src.key, body, headers) for _ in range(3)]
    with django_capture_on_commit_callbacks(execute=True):
        run = stream.run_once()
    assert run.stored == entries[:1] and run.duplicates == entries[1:] and not run.failed
    event = InboundEvent.objects.get()
    assert (event.source_id, event.event_id, event.event_type, event.status) == (
        src.pk, "msg_stream_1", "user.deleted", InboundEventStatus.PENDING)
    assert bytes(event.body) == body and nudges == [event.pk]  # processed like an HTTP one, once
    assert pending(client, stream) == 0

    # The same message by HTTP afterwards: the stored row answers, nothing new.
    assert send(src.key, body, headers).status_code in (200, 202)
    assert InboundEvent.objects.count() == 1


def test_an_entry_not_stored_stays_pending_and_is_stored_on_the_next_round(
        client, stream, source, nudges, monkeypatch):
    src, secret = source
    entry = publish(client, stream, src.key, *user_deleted(secret))
    def database_down(**kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr("events.stream.event_receive", database_down)
    assert stream.run_once().failed == [entry]
    assert pending(client, stream) == 1 and not InboundEvent.objects.exists()
    monkeypatch.setattr("events.stream.event_receive", event_receive)
    assert stream.run_once().stored == [entry]
    assert pending(client, stream) == 0 and InboundEvent.objects.count() == 1


def test_a_forged_or_malformed_entry_is_set_aside_with_its_reason_and_nothing_stored(client, stream, source):
    src, secret = source
    forged = publish(client, stream, src.key, *user_deleted("whsec_" + "A" * 32))
    not_json = publish(client, stream, src.key, *signed_text(secret, "not json"))
    run = stream.run_once()
    assert run.rejected == [forged, not_json] and not InboundEvent.objects.exists()
    rejected = client.xrange(f"{stream.stream}:rejected")
    assert [(f[b"entry"].decode(), f[b"reason"].decode()) for _, f in rejected] == [
        (forged, "INVALID_SIGNATURE"), (not_json, "VALIDATION_ERROR")]
    assert pending(client, stream) == 0


def test_an_entry_older_than_the_streams_window_is_refused_but_a_queued_one_is_not(client, stream, source,
                                                                                   settings):
    src, secret = source
    queued = publish(client, stream, src.key, *user_deleted(secret, at=stale(minutes=60)))  # consumers were down
    settings.EVENTS_REDIS_STREAM_MAX_AGE_SECONDS = 1800
    old = publish(client, stream, src.key, *user_deleted(secret, at=stale(minutes=45)))
    settings.EVENTS_REDIS_STREAM_MAX_AGE_SECONDS = 7200
    assert stream.run_once().stored == [queued, old]
    settings.EVENTS_REDIS_STREAM_MAX_AGE_SECONDS = 1800
    too_old = publish(client, stream, src.key, *user_deleted(secret, at=stale(minutes=45)))
    assert stream.run_once().rejected == [too_old]


def test_an_entry_a_dead_consumer_left_is_claimed(client, stream, source, monkeypatch):
    src, secret = source
    entry = publish(client, stream, src.key, *user_deleted(secret))
    client.xreadgroup(stream.group, "dead-consumer", {stream.stream: ">"}, count=10)  # took it, then died
    monkeypatch.setattr("events.stream.CLAIM_IDLE_MS", 0)
    assert stream.run_once().stored == [entry] and pending(client, stream) == 0


def test_the_command_reads_a_batch(client, stream, source, capsys):
    src, secret = source
    publish(client, stream, src.key, *user_deleted(secret))
    call_command("consume_events_stream", "--once")
    assert "stored 1" in capsys.readouterr().out and InboundEvent.objects.count() == 1

