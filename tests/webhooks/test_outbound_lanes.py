"""The dispatcher under a hung endpoint and a binding cap (issue 18): the slow lane, claiming past the slice, sends
answered but not yet recorded, and what a claim costs inside a run."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.webhooks.outbound_support import HANG, Receiver, make_endpoint
from webhooks.events import publish
from webhooks.models import DeliveryStatus, WebhookDelivery
from webhooks.outbound.delivery import SendResult
from webhooks.outbound.dispatcher import _relaxed_commits, claim_rows, dispatch_due
from webhooks.outbound.lanes import slow_endpoints


@pytest.fixture(autouse=True)
def _settings(settings):
    settings.WEBHOOK_ALLOWED_CIDRS = ["127.0.0.0/8"]
    settings.WEBHOOK_DELIVERY_TIMEOUT = 1
    settings.WEBHOOK_MAX_CONCURRENCY_PER_ENDPOINT = 3
    slow_endpoints.forget()
    yield
    slow_endpoints.forget()


def _took(seconds: float) -> SendResult:
    return SendResult(started_at=timezone.now(), duration_ms=int(seconds * 1000), status_code=None)


def test_an_endpoint_is_slow_from_a_send_taking_half_the_timeout_until_it_answers_quickly():
    slow_endpoints.learn(7, _took(0.4))
    assert slow_endpoints.ids() == frozenset()
    slow_endpoints.learn(7, _took(1.0))  # the timeout
    slow_endpoints.learn(8, _took(0.5))
    assert slow_endpoints.ids() == {7, 8}
    slow_endpoints.learn(7, _took(0.01))
    assert slow_endpoints.ids() == {8}


@pytest.mark.django_db
def test_a_slow_endpoint_holds_only_the_slow_lane_and_what_it_cannot_take_is_not_left_leased(org):
    with Receiver(HANG) as hung, Receiver(200) as healthy:
        hung_endpoint, _ = make_endpoint(org, hung.url, events=["order.created"])
        make_endpoint(org, healthy.url, events=["order.updated"])
        slow_endpoints.learn(hung_endpoint.pk, _took(1.0))  # it timed out before
        for n in range(6):
            publish("order.created", {"n": n}, org)
        for n in range(9):
            publish("order.updated", {"n": n}, org)
        report = dispatch_due(threads=4, run_seconds=0.5)  # a slow lane of one thread

    # Under a cap of 3, one send at a time: the slow lane's single thread, whatever the cap allows.
    assert len(hung.requests) == 1
    assert len(healthy.requests) == 9 and report.delivered == 9
    hung_rows = WebhookDelivery.objects.filter(endpoint=hung_endpoint)
    assert Counter(hung_rows.values_list("status", flat=True)) == {DeliveryStatus.RETRYING: 1,
                                                                   DeliveryStatus.PENDING: 5}
    assert not hung_rows.filter(locked_until__isnull=False).exists()  # given back at once, not held for the lease
    assert slow_endpoints.ids() == {hung_endpoint.pk}


@pytest.mark.django_db
def test_past_its_slice_a_run_held_by_a_hung_send_keeps_claiming_for_the_others(org, settings):
    settings.WEBHOOK_DELIVERY_TIMEOUT = 2
    settings.WEBHOOK_MAX_CONCURRENCY_PER_ENDPOINT = 2
    with Receiver(HANG) as hung, Receiver(200) as healthy:
        hung_endpoint, _ = make_endpoint(org, hung.url, events=["order.created"])
        make_endpoint(org, healthy.url, events=["order.updated"])
        for n in range(4):
            publish("order.created", {"n": n}, org)
        [late] = publish("order.updated", {"late": True}, org)
        # Due after the slice, while the hung sends still hold the run.
        WebhookDelivery.objects.filter(pk=late.pk).update(next_attempt_at=timezone.now() + timedelta(seconds=0.5))
        report = dispatch_due(threads=4, run_seconds=0.1)

    assert len(healthy.requests) == 1 and WebhookDelivery.objects.get(pk=late.pk).status == "delivered"
    assert report.delivered == 1 and report.cut_short
    # The hung endpoint was not claimed again past the slice: its two sends, then the run ended.
    assert len(hung.requests) == 2
    assert Counter(WebhookDelivery.objects.filter(endpoint=hung_endpoint).values_list("status", flat=True)) == {
        DeliveryStatus.RETRYING: 2, DeliveryStatus.PENDING: 2}


@pytest.mark.django_db
def test_answered_sends_not_yet_recorded_do_not_count_against_the_cap(org):
    make_endpoint(org, "http://127.0.0.1:9/hook")
    for n in range(5):
        publish("order.created", {"n": n}, org)
    first = claim_rows(limit=10)
    assert len(first) == 3  # the cap
    assert claim_rows(limit=10) == []
    answered = frozenset(row.id for row in first[:2])
    second = claim_rows(limit=10, sent=answered)
    assert len(second) == 2 and not {row.id for row in second} & {row.id for row in first}
    assert claim_rows(limit=10, sent=answered) == []  # 1 in flight + 2 new: the cap again


@pytest.mark.django_db
def test_a_claim_inside_a_run_costs_two_statements_on_postgresql(org, settings):
    settings.WEBHOOK_MAX_CONCURRENCY_PER_ENDPOINT = 100
    make_endpoint(org, "http://127.0.0.1:9/a")
    make_endpoint(org, "http://127.0.0.1:9/b")
    for n in range(20):
        publish("order.created", {"n": n}, org)
    with _relaxed_commits(), CaptureQueriesContext(connection) as queries:
        assert len(claim_rows(limit=40)) == 40
    statements = [q["sql"] for q in queries if not q["sql"].upper().startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))]
    if connection.vendor == "postgresql":
        # The candidates with their endpoints' claim locks; the count, ranking and lease in one UPDATE.
        assert [sql.split()[0].upper() for sql in statements] == ["WITH", "WITH"]
        assert "pg_advisory_xact_lock" in statements[0] and "UPDATE" in statements[1]
    else:
        assert len(statements) == 4  # the write lock, the candidates, the count, the lease
