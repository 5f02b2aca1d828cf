"""Real deliveries to a receiver on 127.0.0.1: signed (verified with `standardwebhooks`), retried, recorded."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from standardwebhooks import Webhook, WebhookVerificationError

from tests.factories import IntegrationFactory, MembershipFactory, UserFactory
from tests.webhooks.outbound_support import Receiver, free_port, make_endpoint
from webhooks.events import publish
from webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint, WebhookNotice
from webhooks.outbound.dispatcher import dispatch_due
from webhooks.outbound.endpoints import endpoint_rotate_secret
from webhooks.outbound.schedule import RETRY_DELAYS

pytestmark = pytest.mark.django_db

START = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _allow_loopback(settings):
    settings.WEBHOOK_ALLOWED_CIDRS = ["127.0.0.0/8"]
    settings.WEBHOOK_DELIVERY_TIMEOUT = 3


def _dispatch():
    return dispatch_due(threads=4, run_seconds=5)


def test_delivery_verifies_with_standardwebhooks(org):
    with Receiver(200) as receiver:
        endpoint, secret = make_endpoint(org, receiver.url, events=["order.created"])
        integration = IntegrationFactory(organization=org)
        [delivery] = publish("order.created", {"order": {"id": 7, "total": "9.90"}}, org, integration=integration)
        report = _dispatch()

    assert (report.attempts, report.delivered) == (1, 1)
    [received] = receiver.requests
    verified = Webhook(secret).verify(received.body, received.headers)
    assert verified["type"] == "order.created"
    assert verified["data"] == {"order": {"id": 7, "total": "9.90"}}
    assert received.headers["webhook-id"] == delivery.event_id
    assert received.headers["Content-Type"] == "application/json"
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED and delivery.attempts == 1
    assert delivery.attempt_log.get().response_status == 200
    endpoint.refresh_from_db()
    assert endpoint.last_success_at is not None and endpoint.failing_since is None


def test_an_event_to_several_endpoints_is_one_body_signed_for_each(org, monkeypatch, settings):
    """The body is serialised once per event in a claimed batch (dispatcher `_prepare`); each endpoint still gets it
    under its own secret, with the event's id as `webhook-id`."""
    from webhooks.outbound import delivery, dispatcher

    settings.WEBHOOK_MAX_CONCURRENCY_PER_ENDPOINT = 10  # one claim takes all six
    made = []

    def counted(payload):
        made.append(payload)
        return delivery.payload_body(payload)

    monkeypatch.setattr(dispatcher, "payload_body", counted)
    with Receiver(204) as receiver:
        secrets = [make_endpoint(org, f"{receiver.url}/{n}")[1] for n in range(3)]
        events = [publish("order.created", {"order": {"id": n, "note": "ü"}}, org)[0].event_id for n in range(2)]
        report = _dispatch()

    assert (report.attempts, report.delivered) == (6, 6)
    assert len(made) == 2  # one body per event, not per delivery
    by_event: dict[str, set[bytes]] = {}
    for received in receiver.requests:
        secret = secrets[int(received.path.rsplit("/", 1)[1])]
        assert Webhook(secret).verify(received.body, received.headers)["data"]["order"]["note"] == "ü"
        for other in set(secrets) - {secret}:
            with pytest.raises(WebhookVerificationError):
                Webhook(other).verify(received.body, received.headers)
        by_event.setdefault(received.headers["webhook-id"], set()).add(received.body)
    assert sorted(by_event) == sorted(events) and all(len(bodies) == 1 for bodies in by_event.values())
    assert all(json.loads(next(iter(bodies)))["data"]["order"]["id"] in (0, 1) for bodies in by_event.values())


def test_after_rotation_both_secrets_verify_for_24_hours(org):
    with Receiver(200) as receiver, time_machine.travel(START, tick=True) as clock:
        endpoint, old = make_endpoint(org, receiver.url)
        new = endpoint_rotate_secret(endpoint=endpoint)
        publish("integration.synced", {"n": 1}, org)
        _dispatch()
        first = receiver.requests[0]
        assert len(first.headers["webhook-signature"].split(" ")) == 2
        for secret in (old, new):
            Webhook(secret).verify(first.body, first.headers)
        clock.shift(timedelta(hours=24, minutes=1))
        publish("integration.synced", {"n": 2}, org)
        _dispatch()
        second = receiver.requests[1]
        assert len(second.headers["webhook-signature"].split(" ")) == 1
        Webhook(new).verify(second.body, second.headers)
        with pytest.raises(WebhookVerificationError, match="No matching signature"):
            Webhook(old).verify(second.body, second.headers)


def test_receiver_down_then_back_gets_it_once_with_every_attempt_recorded(org):
    port = free_port()
    url = f"http://127.0.0.1:{port}/hook"
    with time_machine.travel(START, tick=False) as clock:
        endpoint, secret = make_endpoint(org, url)
        [delivery] = publish("order.updated", {"order": {"id": 1}}, org)
        # Down: the first three attempts (now, +5 s, +5 min) find nothing listening.
        for step in (1, 2, 3):
            assert _dispatch().attempts == 1
            delivery.refresh_from_db()
            assert delivery.status == DeliveryStatus.RETRYING
            assert delivery.next_attempt_at == START + sum(RETRY_DELAYS[1:step + 1], timedelta())
            assert _dispatch().attempts == 0  # not due yet
            clock.move_to(delivery.next_attempt_at)
        with Receiver(200, port=port) as receiver:
            assert _dispatch().delivered == 1
            Webhook(secret).verify(receiver.requests[0].body, receiver.requests[0].headers)
            assert _dispatch().attempts == 0
            clock.shift(timedelta(days=2))
            assert _dispatch().attempts == 0
            assert len(receiver.requests) == 1
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED and delivery.attempts == 4
    attempts = list(delivery.attempt_log.all())
    assert [a.response_status for a in attempts] == [None, None, None, 200]
    assert all("connection refused" in a.error for a in attempts[:3])
    assert [a.attempted_at for a in attempts] == [START, START + timedelta(seconds=5),
                                                  START + timedelta(seconds=5, minutes=5),
                                                  START + timedelta(seconds=5, minutes=35)]


def test_every_failure_is_retried_on_the_schedule_then_failed(org):
    with Receiver(500) as receiver, time_machine.travel(START, tick=False) as clock:
        make_endpoint(org, receiver.url)
        [delivery] = publish("order.created", {}, org)
        for _ in range(len(RETRY_DELAYS)):
            assert _dispatch().attempts == 1
            delivery.refresh_from_db()
            clock.move_to(delivery.next_attempt_at)
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.attempts == 8 == len(receiver.requests) == delivery.attempt_log.count()
    assert delivery.error == "HTTP 500"


@pytest.mark.parametrize("status", [400, 401, 404, 422, 301])
def test_4xx_and_redirects_are_retried_not_followed(org, status):
    with Receiver((status, {"Location": "http://169.254.169.254/latest"})) as receiver:
        make_endpoint(org, receiver.url)
        [delivery] = publish("order.created", {}, org)
        _dispatch()
    delivery.refresh_from_db()
    assert len(receiver.requests) == 1
    assert delivery.status == DeliveryStatus.RETRYING and delivery.response_status == status


def test_410_gone_disables_the_endpoint_and_tells_the_owners(org):
    with Receiver(410) as receiver:
        endpoint, _ = make_endpoint(org, receiver.url)
        first, second = publish("order.created", {}, org) + publish("order.updated", {}, org)
        dispatch_due(threads=1, run_seconds=5)
    endpoint.refresh_from_db()
    assert not endpoint.is_active and "410" in endpoint.disabled_reason
    assert len(receiver.requests) == 1
    assert {d.status for d in WebhookDelivery.objects.all()} == {DeliveryStatus.FAILED}
    notice = WebhookNotice.objects.get()
    assert notice.kind == "endpoint.disabled" and notice.endpoint == endpoint
    assert publish("order.created", {}, org) == []


@pytest.mark.parametrize(("status", "retry_after", "wait"), [
    (429, "600", timedelta(minutes=10)),
    (503, "Fri, 01 May 2026 11:00:00 GMT", timedelta(hours=2)),
    (429, "1", timedelta(seconds=5)),  # the schedule is the floor
    (500, "600", timedelta(seconds=5)),  # only 429 and 503 are asked
])
def test_retry_after_is_honoured_on_429_and_503(org, status, retry_after, wait):
    with Receiver((status, {"Retry-After": retry_after})) as receiver, time_machine.travel(START, tick=False):
        make_endpoint(org, receiver.url)
        [delivery] = publish("order.created", {}, org)
        _dispatch()
    delivery.refresh_from_db()
    assert delivery.next_attempt_at == START + wait


def test_a_hung_receiver_times_out_and_is_retried(org, settings):
    from tests.webhooks.outbound_support import HANG

    settings.WEBHOOK_DELIVERY_TIMEOUT = 0.5
    with Receiver(HANG) as receiver:
        make_endpoint(org, receiver.url)
        [delivery] = publish("order.created", {}, org)
        _dispatch()
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.RETRYING
    assert delivery.attempt_log.get().error == "timed out after 0.5 s"


def test_endpoint_failing_for_days_is_disabled_and_owners_emailed(org, settings, django_capture_on_commit_callbacks):
    settings.EMAIL_HOST = "smtp.example.com"
    settings.WEBHOOK_DISABLE_AFTER_DAYS = 5
    MembershipFactory(organization=org, role="owner", user=UserFactory(email="boss@example.com"))
    MembershipFactory(organization=org, role="admin", user=UserFactory(email="not-told@example.com"))
    with Receiver(500) as receiver, time_machine.travel(START, tick=False) as clock:
        endpoint, _ = make_endpoint(org, receiver.url)
        for day in range(7):
            publish("order.created", {"day": day}, org)
            with django_capture_on_commit_callbacks(execute=True):
                _dispatch()
            endpoint.refresh_from_db()
            if not endpoint.is_active:
                break
            clock.shift(timedelta(days=1))
    assert day == 5
    assert not endpoint.is_active and "No successful delivery for 5 days" in endpoint.disabled_reason
    notice = WebhookNotice.objects.get(endpoint=endpoint)
    assert notice.emailed_to == ["boss@example.com"]
    [email] = mail.outbox
    assert email.to == ["boss@example.com"] and endpoint.url in email.body


def test_no_email_without_email_host(org, settings):
    settings.EMAIL_HOST = ""
    MembershipFactory(organization=org, role="owner", user=UserFactory(email="boss@example.com"))
    with Receiver(410) as receiver:
        make_endpoint(org, receiver.url)
        publish("order.created", {}, org)
        _dispatch()
    assert WebhookNotice.objects.get().emailed_to == [] and mail.outbox == []


def test_a_success_resets_failing_since(org):
    answers = iter([500, 200])
    with Receiver(lambda r: next(answers)) as receiver, time_machine.travel(START, tick=False) as clock:
        endpoint, _ = make_endpoint(org, receiver.url)
        publish("order.created", {}, org)
        _dispatch()
        endpoint.refresh_from_db()
        assert endpoint.failing_since == START
        clock.shift(timedelta(seconds=5))
        _dispatch()
    endpoint.refresh_from_db()
    assert endpoint.failing_since is None and endpoint.last_success_at == START + timedelta(seconds=5)


def test_payload_is_the_standard_webhooks_envelope(org):
    with Receiver(200) as receiver, time_machine.travel(START, tick=False):
        make_endpoint(org, receiver.url)
        publish("inventory.low_stock", {"sku": "A", "at": START, "qty": __import__("decimal").Decimal("1.5")}, org)
        _dispatch()
    body = json.loads(receiver.requests[0].body)
    assert body == {"type": "inventory.low_stock", "timestamp": "2026-05-01T09:00:00Z",
                    "data": {"sku": "A", "at": "2026-05-01T09:00:00Z", "qty": "1.5"}}
    assert WebhookEndpoint.objects.get().last_triggered_at == START
