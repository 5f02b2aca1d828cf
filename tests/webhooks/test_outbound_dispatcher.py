"""The dispatcher: leases, the per-endpoint cap, and a hung endpoint that must not delay healthy ones."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest
import time_machine
from django.db import connection, connections
from django.utils import timezone

from tests.factories import OrganizationFactory
from tests.webhooks.outbound_support import Receiver, make_endpoint
from webhooks.events import publish
from webhooks.models import DeliveryStatus, WebhookDelivery
from webhooks.outbound.delivery import lease_seconds
from webhooks.outbound.dispatcher import claim_due, deliver_now, dispatch_due
from webhooks.outbound.endpoints import delivery_redeliver


@pytest.fixture(autouse=True)
def _allow_loopback(settings):
    settings.WEBHOOK_ALLOWED_CIDRS = ["127.0.0.0/8"]
    settings.WEBHOOK_DELIVERY_TIMEOUT = 2
    settings.WEBHOOK_MAX_CONCURRENCY_PER_ENDPOINT = 2


@pytest.mark.django_db
def test_a_hung_endpoint_does_not_delay_healthy_ones(org, settings):
    """Told by events, not a stopwatch: the hung endpoint holds every request it gets until the healthy endpoint
    has had all six, and the last of those falls due only once the hung sends hold their threads. A dispatcher
    that let the hung endpoint delay the healthy one never gets there; it fails on the bound, whatever the load."""
    bound = 30  # seconds a broken dispatcher is waited for before the test fails; a working one never waits it
    settings.WEBHOOK_DELIVERY_TIMEOUT = bound * 4  # the test holds the hung sends: none times out first
    lock, hung_held, release = threading.Lock(), threading.Event(), threading.Event()
    hung_state = {"in_flight": 0, "most": 0, "answered": 0}
    healthy_answered, at_last_healthy = [0], {}

    def hang_until_released(receiver):
        with lock:
            hung_state["in_flight"] += 1
            hung_state["most"] = max(hung_state["most"], hung_state["in_flight"])
            if hung_state["in_flight"] == 2:
                hung_held.set()
        release.wait(bound)
        with lock:
            hung_state["in_flight"] -= 1
            hung_state["answered"] += 1
        return 503

    def answer_while_hung_ones_hold(receiver):
        hung_held.wait(bound)  # so every healthy send goes out while two hung sends hold their threads
        with lock:
            healthy_answered[0] += 1
            n = healthy_answered[0]
            if n == 6:
                at_last_healthy.update(held=hung_state["in_flight"], answered=hung_state["answered"])
        if n == 5:
            clock.shift(timedelta(seconds=1))  # the late delivery falls due in the middle of the run
        if n == 6:
            release.set()
        return 200

    with time_machine.travel(timezone.now(), tick=False) as clock, Receiver(hang_until_released) as hung, \
            Receiver(answer_while_hung_ones_hold) as healthy:
        make_endpoint(org, hung.url, events=["order.created"])
        make_endpoint(org, healthy.url, events=["order.updated"])
        # The hung endpoint's deliveries are older: a FIFO dispatcher would give them every thread first.
        for n in range(10):
            publish("order.created", {"n": n}, org)
        for n in range(5):
            publish("order.updated", {"n": n}, org)
        late = publish("order.updated", {"late": True}, org)[0]
        WebhookDelivery.objects.filter(pk=late.pk).update(next_attempt_at=timezone.now() + timedelta(seconds=1))

        report = dispatch_due(threads=4, run_seconds=bound * 10)

    assert len(healthy.requests) == 6
    assert b'"late"' in healthy.requests[-1].body  # the one that fell due mid-run was claimed while they hung
    assert at_last_healthy == {"held": 2, "answered": 0}  # all six went out while both hung sends were held
    assert hung_state["most"] == 2  # the per-endpoint cap: two threads at most, whatever else waited
    assert len(hung.requests) == 10 and (report.attempts, report.delivered) == (16, 6)
    statuses = Counter(WebhookDelivery.objects.filter(event="order.created").values_list("status", flat=True))
    assert statuses == {DeliveryStatus.RETRYING: 10}
    assert set(WebhookDelivery.objects.filter(event="order.updated").values_list("status", flat=True)) == {
        DeliveryStatus.DELIVERED}


@pytest.mark.django_db
def test_concurrency_per_endpoint_is_capped(org, settings):
    settings.WEBHOOK_MAX_CONCURRENCY_PER_ENDPOINT = 3
    lock, state = threading.Lock(), {"now": 0, "max": 0}
    # Sends are answered three at a time, when three are in flight together: the cap is reached whatever the
    # machine's load (a sleep only made overlap likely), and a fourth concurrent send would be counted.
    together = threading.Barrier(3, timeout=30)

    def in_threes(receiver):
        with lock:
            state["now"] += 1
            state["max"] = max(state["max"], state["now"])
        together.wait()
        with lock:
            state["now"] -= 1
        return 200

    with Receiver(in_threes) as receiver:
        make_endpoint(org, receiver.url)
        for n in range(12):
            publish("order.created", {"n": n}, org)
        report = dispatch_due(threads=8, run_seconds=300)
    assert report.delivered == 12 == len(receiver.requests)
    assert state["max"] == 3


@pytest.mark.django_db
def test_a_lease_hides_a_row_until_it_expires(org):
    make_endpoint(org, "http://127.0.0.1:9/hook")
    [delivery] = publish("order.created", {}, org)
    with time_machine.travel(timezone.now(), tick=False) as clock:
        assert claim_due(limit=10) == [delivery.pk]
        assert claim_due(limit=10) == []  # another worker holds it
        clock.shift(timedelta(seconds=lease_seconds() + 1))  # ...and died
        assert claim_due(limit=10) == [delivery.pk]


@pytest.mark.django_db
def test_deliver_now_is_idempotent_and_redeliver_sends_again(org):
    with Receiver(200) as receiver:
        make_endpoint(org, receiver.url)
        [delivery] = publish("order.created", {}, org)
        assert deliver_now(delivery.pk) is True
        assert deliver_now(delivery.pk) is None  # delivered: a duplicate task message does nothing
        delivery_redeliver(delivery=delivery)
        assert deliver_now(delivery.pk) is True
    assert len(receiver.requests) == 2
    assert receiver.requests[0].headers["webhook-id"] == receiver.requests[1].headers["webhook-id"]
    delivery.refresh_from_db()
    assert delivery.attempts == 2 and delivery.attempt_log.count() == 2


@pytest.mark.django_db
def test_disabled_endpoints_are_not_claimed(org):
    endpoint, _ = make_endpoint(org, "http://127.0.0.1:9/hook")
    publish("order.created", {}, org)
    endpoint.__class__.objects.filter(pk=endpoint.pk).update(is_active=False)
    assert claim_due(limit=10) == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_claimers_share_rows_without_overlap_or_exceeding_the_cap(settings):
    settings.WEBHOOK_MAX_CONCURRENCY_PER_ENDPOINT = 3
    org = OrganizationFactory()
    for n in range(4):
        make_endpoint(org, f"http://127.0.0.1:9/hook{n}")
    for n in range(10):
        publish("order.created", {"n": n}, org)
    results: list[list[int]] = []
    barrier = threading.Barrier(6)

    def claimer():
        try:
            barrier.wait()
            results.append(claim_due(limit=5))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=claimer) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    claimed = [pk for got in results for pk in got]
    assert len(claimed) == len(set(claimed)) == 12  # 4 endpoints x cap 3
    per_endpoint = Counter(WebhookDelivery.objects.filter(pk__in=claimed).values_list("endpoint_id", flat=True))
    assert set(per_endpoint.values()) == {3}
    assert connection.vendor == "postgresql"
