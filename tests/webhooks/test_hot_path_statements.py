"""The SQL the two hot paths cost, pinned by count (issue 18): a regression fails here, not in a bench.

- receiving a webhook: one statement (its INSERT … ON CONFLICT), in autocommit, once the integration is cached;
- recording a dispatcher batch: three statements (attempts, deliveries, endpoints) whatever the batch size;
- claiming a batch: the same handful of statements for 2 deliveries as for 20.

On SQLite and PostgreSQL alike (`make test` runs both).
"""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import timedelta
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from config.broker import BatchedNudges
from integrations.models import Integration
from tests.webhooks.inbound_support import post, raw_order, receive_url, shopify_delivery, shopify_sign
from tests.webhooks.outbound_support import make_endpoint
from webhooks.events import publish
from webhooks.models import IncomingWebhook, WebhookDelivery, WebhookDeliveryAttempt, WebhookEndpoint
from webhooks.outbound.delivery import Outcome, SendResult, outcomes_record, payload_body
from webhooks.outbound.dispatcher import _Endpoints, _prepare, claim_rows

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _loopback_endpoints(settings):
    settings.WEBHOOK_ALLOWED_CIDRS = ["127.0.0.0/8"]


def _statements(queries) -> list[str]:
    """What the code ran, without the savepoints of the test's own transaction."""
    return [q["sql"] for q in queries if not q["sql"].upper().startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))]


def test_a_webhook_is_received_in_one_statement_once_its_integration_is_cached(
    client, shop, nudges, django_capture_on_commit_callbacks
):
    post(client, receive_url(shop.route_key), *shopify_delivery(raw_order()))  # looks the integration up
    body, headers = shopify_delivery(raw_order(id=4242))
    with CaptureQueriesContext(connection) as queries, django_capture_on_commit_callbacks(execute=True):
        response = post(client, receive_url(shop.route_key), body, headers)
    assert response.status_code == 202
    [insert] = _statements(queries)
    assert insert.upper().startswith("INSERT INTO") and "ON CONFLICT DO NOTHING" in insert.upper()
    assert IncomingWebhook.objects.get(pk=response.json()["id"]).external_id == headers["X-Shopify-Webhook-Id"]
    assert nudges[-1] == response.json()["id"]


def test_a_webhook_is_stored_from_plain_values_without_a_model_instance(client, shop, nudges):
    """The row is written from the values the request has (row_insert.py); the model is only read back here."""
    post(client, receive_url(shop.route_key), *shopify_delivery(raw_order()))
    body, headers = shopify_delivery(raw_order(id=4343))
    with mock.patch.object(IncomingWebhook, "__init__", side_effect=AssertionError("a model instance was made")):
        response = post(client, receive_url(shop.route_key), body, headers)
    assert (response.status_code, response["Content-Type"]) == (202, "application/json")
    assert response.content == b'{"id": %d, "status": "pending"}' % response.json()["id"]
    row = IncomingWebhook.objects.get(pk=response.json()["id"])
    assert (bytes(row.body), row.external_id, row.event_type, row.source) == (
        body, headers["X-Shopify-Webhook-Id"], "orders/updated", shop.provider)
    assert (row.status, row.retry_count, row.metadata, row.locked_until, row.processed_at) == (
        "pending", 0, {}, None, None)
    assert row.signature_verified and row.remote_ip == "203.0.113.7"
    assert row.headers["X-Shopify-Hmac-Sha256"] != headers["X-Shopify-Hmac-Sha256"]  # redacted, as ever
    assert row.next_attempt_at == row.nudged_at == row.received_at


@pytest.mark.skipif(connection.vendor != "postgresql", reason="prepared statements: PostgreSQL")
def test_on_postgresql_the_insert_is_prepared_once_per_connection(client, shop, nudges):
    def prepared() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
                           [f"INSERT INTO {IncomingWebhook._meta.db_table}%"])
            return cursor.fetchone()[0]

    for number in range(3):
        assert post(client, receive_url(shop.route_key), *shopify_delivery(raw_order(id=500 + number))).status_code \
            == 202
    assert prepared() == 1
    assert IncomingWebhook.objects.count() == 3
    assert connection.connection.prepare_threshold is None  # nothing else on the connection is prepared or counted


@pytest.mark.skipif(connection.vendor != "postgresql", reason="prepared statements: PostgreSQL")
@pytest.mark.django_db(transaction=True)  # autocommit, as in production: the refused INSERT aborts no transaction
def test_a_prepared_insert_deallocated_behind_its_back_is_refused_once_then_prepared_again(client, shop, nudges):
    assert post(client, receive_url(shop.route_key), *shopify_delivery(raw_order(id=600))).status_code == 202
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")  # what a pooler's reset does; psycopg does not see it on this cursor
    refused = post(client, receive_url(shop.route_key), *shopify_delivery(raw_order(id=601)))
    assert (refused.status_code, refused.json()["error"]["code"]) == (503, "SERVICE_UNAVAILABLE")
    assert post(client, receive_url(shop.route_key), *shopify_delivery(raw_order(id=602))).status_code == 202
    assert IncomingWebhook.objects.count() == 2


def test_a_redelivery_costs_one_more_read_and_answers_the_first_row(client, shop, nudges):
    body, headers = shopify_delivery(raw_order(), webhook_id="same")
    first = post(client, receive_url(shop.route_key), body, headers)
    with CaptureQueriesContext(connection) as queries:
        again = post(client, receive_url(shop.route_key), body, headers)
    assert (again.status_code, again.json()["id"]) == (200, first.json()["id"])
    assert len(_statements(queries)) == 2  # the INSERT that did nothing, the read of the row it met


def test_an_integration_changed_behind_the_cache_is_read_again_before_anything_is_stored(client, shop, nudges):
    post(client, receive_url(shop.route_key), *shopify_delivery(raw_order()))  # cached, with the old secret
    # Another process rotates the secret (no signal reaches this one): the old signature no longer counts.
    Integration.objects.filter(pk=shop.pk).update(webhook_secret="whsec_rotated_secret", updated_at=timezone.now())
    stale = post(client, receive_url(shop.route_key), *shopify_delivery(raw_order(id=77)))
    assert stale.status_code == 401
    assert IncomingWebhook.objects.count() == 1
    body, headers = shopify_delivery(raw_order(id=78), secret="whsec_rotated_secret")
    assert shopify_sign(body, "whsec_rotated_secret") == headers["X-Shopify-Hmac-Sha256"]
    assert post(client, receive_url(shop.route_key), body, headers).status_code == 202


def test_a_deleted_integration_stores_nothing_more(client, shop, nudges):
    post(client, receive_url(shop.route_key), *shopify_delivery(raw_order()))
    Integration.objects.filter(pk=shop.pk).delete()
    assert post(client, receive_url(shop.route_key), *shopify_delivery(raw_order(id=9))).status_code == 404
    assert not IncomingWebhook.objects.exists()


# ---------------------------------------------------------------- outgoing deliveries


def _claimed(org, events: int) -> list[Outcome]:
    for n in range(events):
        publish("order.created", {"n": n}, org)
    return claim_rows(limit=events)


@pytest.mark.parametrize("events", [1, 5, 20])
def test_recording_a_batch_is_three_statements_whatever_its_size(org, settings, events):
    settings.WEBHOOK_MAX_CONCURRENCY_PER_ENDPOINT = 100
    make_endpoint(org, "http://127.0.0.1:9/a")
    make_endpoint(org, "http://127.0.0.1:9/b")
    rows = _claimed(org, events)
    now = timezone.now()
    outcomes = [Outcome(row.id, row.endpoint_id, row.round_attempts,
                        SendResult(started_at=now, duration_ms=3, status_code=204 if n % 3 or n < 2 else 500))
                for n, row in enumerate(rows)]
    with CaptureQueriesContext(connection) as queries:
        outcomes_record(outcomes)
    verbs = [sql.split()[0].upper() for sql in _statements(queries)]
    assert verbs == ["INSERT", "WITH", "WITH"]  # attempts; deliveries; endpoints (UPDATE … FROM (VALUES …))
    delivered = WebhookDelivery.objects.filter(status="delivered").count()
    assert delivered == sum(1 for o in outcomes if o.result.ok)
    assert WebhookDelivery.objects.filter(status="retrying", next_attempt_at__gt=now).count() == len(rows) - delivered
    assert not WebhookDelivery.objects.filter(locked_until__isnull=False).exists()
    assert WebhookDelivery.objects.filter(attempts=1).count() == len(rows) == len(outcomes)
    touched = WebhookEndpoint.objects.filter(pk__in={o.endpoint_id for o in outcomes})
    assert all(e.last_success_at is not None and e.failing_since is None for e in touched)


def test_a_failed_batch_is_retried_and_its_endpoint_marked_failing(org):
    make_endpoint(org, "http://127.0.0.1:9/a")
    rows = _claimed(org, 2)
    now = timezone.now()
    outcomes_record([Outcome(row.id, row.endpoint_id, row.round_attempts,
                             SendResult(started_at=now, duration_ms=3, status_code=503, retry_after="600"))
                     for row in rows])
    assert {(d.status, d.error, d.round_attempts) for d in WebhookDelivery.objects.all()} == {
        ("retrying", "HTTP 503", 1)}
    assert all(d.next_attempt_at >= now + timedelta(minutes=10) for d in WebhookDelivery.objects.all())
    assert WebhookEndpoint.objects.get().failing_since is not None


def test_claiming_costs_the_same_statements_for_2_deliveries_as_for_20(org, settings):
    settings.WEBHOOK_MAX_CONCURRENCY_PER_ENDPOINT = 100
    make_endpoint(org, "http://127.0.0.1:9/a")
    counts = []
    for events in (2, 20):
        for n in range(events):
            publish("order.created", {"n": n}, org)
        with CaptureQueriesContext(connection) as queries:
            assert len(claim_rows(limit=events)) == events
        counts.append(len(_statements(queries)))
        WebhookDelivery.objects.update(status="delivered", locked_until=None)
    assert counts[0] == counts[1] <= 5


def test_a_batch_is_claimed_prepared_and_recorded_from_plain_values_without_model_instances(org, settings):
    """No WebhookDelivery nor WebhookDeliveryAttempt instance per delivery on the dispatcher's path (issue 18: the
    instances cost more CPU than the statements); the rows are only read back here."""
    settings.WEBHOOK_MAX_CONCURRENCY_PER_ENDPOINT = 100
    make_endpoint(org, "http://127.0.0.1:9/a")
    make_endpoint(org, "http://127.0.0.1:9/b")
    for n in range(3):
        publish("order.created", {"n": n}, org)
    no_instance = mock.Mock(side_effect=AssertionError("a model instance was made"))
    with mock.patch.object(WebhookDelivery, "__init__", no_instance), \
            mock.patch.object(WebhookDeliveryAttempt, "__init__", no_instance):
        rows = claim_rows(limit=10)
        prepared = _prepare(rows, _Endpoints())
        now = timezone.now()
        outcomes_record([replace(outcome, result=SendResult(started_at=now, duration_ms=2, status_code=204))
                         for _, outcome in prepared])
    assert len(rows) == len(prepared) == 6
    assert {request.body for request, _ in prepared} == {
        payload_body(d.payload) for d in WebhookDelivery.objects.all()}
    assert WebhookDelivery.objects.filter(status="delivered").count() == WebhookDeliveryAttempt.objects.count() == 6


def test_an_endpoint_disabled_meanwhile_fails_what_it_was_sent(org, settings):
    endpoint, _ = make_endpoint(org, "http://127.0.0.1:9/a")
    [row] = _claimed(org, 1)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(is_active=False)
    outcomes_record([Outcome(row.id, row.endpoint_id, 0, SendResult(started_at=timezone.now(), duration_ms=1,
                                                                    status_code=500))])
    assert WebhookDelivery.objects.get(pk=row.id).status == "failed"


# ---------------------------------------------------------------- batched nudges


def test_nudges_from_many_requests_go_as_few_messages_each_id_once():
    sent: list[list[int]] = []
    gate, all_sent = threading.Event(), threading.Event()

    def send(ids):
        # The first send is held until every add is made: what comes meanwhile must wait for the next batch.
        # (The bounds below are for a broken sender, never waited by a working one; a 5 s bound let a slow machine
        # release the gate mid-adds and split them into more batches.)
        gate.wait(60)
        sent.append(list(ids))
        if sum(len(batch) for batch in sent) >= 100:
            all_sent.set()
        return True

    nudges = BatchedNudges(send, lambda: 0.01)
    threads = [threading.Thread(target=lambda n=n: [nudges.add(n * 100 + k) for k in range(25)]) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    gate.set()
    all_sent.wait(60)
    assert sorted(i for batch in sent for i in batch) == sorted(n * 100 + k for n in range(4) for k in range(25))
    assert len(sent) <= 3


@pytest.mark.postgres
def test_a_delivery_row_carries_only_the_indexes_some_query_reads():
    """Leasing and recording rewrite every index of the row: the foreign keys are served by the composites that
    lead with them, so they have no index of their own (webhooks 0008)."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: set DATABASE_URL=postgres://…")
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE tablename = %s", [WebhookDelivery._meta.db_table])
        definitions = sorted(row[0].split(" USING btree ", 1)[1] for row in cursor.fetchall())
    assert definitions == [
        "(created_at)",
        "(endpoint_id, created_at DESC)",
        "(endpoint_id, locked_until) WHERE (locked_until IS NOT NULL)",
        "(id)",
        "(next_attempt_at) WHERE ((status)::text = ANY ((ARRAY['pending'::character varying, "
        "'retrying'::character varying])::text[]))",
        "(organization_id, created_at DESC)",
    ]
