"""Processing: claim with a lease, handle through commerce, complete or retry with backoff, fail, sweep."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.db import OperationalError
from django.utils import timezone

from commerce.models import ExternalRef, Order
from tests.webhooks.inbound_support import (
    post,
    raw_order,
    receive_url,
    shopify_delivery,
)
from webhooks.inbound import processing
from webhooks.inbound.processing import webhook_claim, webhook_process, webhooks_sweep
from webhooks.models import IncomingWebhook, WebhookDelivery

pytestmark = pytest.mark.django_db


def _receive(client, shop, payload=None, **delivery):
    body, headers = shopify_delivery(payload if payload is not None else raw_order(), **delivery)
    response = post(client, receive_url(shop.route_key), body, headers)
    assert response.status_code in (200, 202), response.content
    return IncomingWebhook.objects.get(pk=response.json()["id"])


def test_an_order_webhook_becomes_one_order_through_commerce(client, shop, eager,
                                                             django_capture_on_commit_callbacks):
    order = raw_order()
    with django_capture_on_commit_callbacks(execute=True):
        webhook = _receive(client, shop, order, topic="orders/create")
    webhook.refresh_from_db()
    assert webhook.status == "completed" and webhook.processed_at and webhook.locked_until is None
    assert webhook.metadata["result"] == {"orders": {"created": 1, "updated": 0, "unchanged": 0}}
    stored = Order.objects.get()
    assert (stored.integration, stored.external_id) == (shop, str(order["id"]))
    assert ExternalRef.objects.filter(integration=shop, external_id=str(order["id"])).count() == 1


def test_an_update_webhook_updates_and_an_older_one_changes_nothing(client, shop, nudges):
    first = _receive(client, shop, raw_order("paid"), topic="orders/create")
    assert webhook_process(webhook_id=first.pk) == "completed"
    newer = raw_order("cancelled", id=raw_order("paid")["id"], updated_at="2030-01-01T00:00:00Z")
    second = _receive(client, shop, newer, topic="orders/cancelled")
    assert webhook_process(webhook_id=second.pk) == "completed"
    assert Order.objects.get().status == "cancelled"
    stale = _receive(client, shop, raw_order("paid"), topic="orders/updated")
    assert webhook_process(webhook_id=stale.pk) == "completed"
    assert Order.objects.get().status == "cancelled"
    assert IncomingWebhook.objects.get(pk=stale.pk).metadata["result"]["orders"]["unchanged"] == 1


@pytest.mark.parametrize("topic", ["customers/update", "app/uninstalled", "orders/delete", "products/delete"])
def test_events_no_handler_takes_are_ignored(client, shop, nudges, topic):
    webhook = _receive(client, shop, {"id": 1}, topic=topic)
    assert webhook_process(webhook_id=webhook.pk) == "ignored"
    webhook.refresh_from_db()
    assert webhook.status == "ignored" and webhook.processed_at
    assert not Order.objects.exists()


def test_a_row_is_processed_once_however_often_it_is_nudged(client, shop, nudges):
    webhook = _receive(client, shop)
    assert webhook_process(webhook_id=webhook.pk) == "completed"
    assert webhook_process(webhook_id=webhook.pk) is None
    assert webhook_process(webhook_id=999_999) is None
    assert Order.objects.count() == 1


def test_a_claimed_row_cannot_be_claimed_again_until_the_sweeper_takes_it_back(client, shop, nudges):
    webhook = _receive(client, shop)
    token = webhook_claim(webhook.pk)
    assert token is not None
    assert webhook_claim(webhook.pk) is None
    assert webhook_process(webhook_id=webhook.pk) is None  # another worker holds it
    assert not Order.objects.exists()


def test_a_worker_whose_lease_was_taken_over_commits_nothing(client, shop, nudges):
    webhook = _receive(client, shop)
    real_handle = processing.handlers.handle

    def handle_then_lose_the_lease(row):
        outcome = real_handle(row)  # writes the order…
        IncomingWebhook.objects.filter(pk=row.pk).update(locked_until=timezone.now() + timedelta(hours=1))
        return outcome  # …but another worker owns the row now

    with mock.patch.object(processing.handlers, "handle", side_effect=handle_then_lose_the_lease):
        assert webhook_process(webhook_id=webhook.pk) is None
    assert not Order.objects.exists()  # rolled back with the status
    assert IncomingWebhook.objects.get(pk=webhook.pk).status == "processing"


def test_a_transient_failure_is_retried_with_backoff_and_its_writes_rolled_back(client, shop, nudges, settings):
    settings.WEBHOOK_INCOMING_RETRY_BASE_SECONDS = 30
    webhook = _receive(client, shop)
    nudges.clear()
    real_upsert = __import__("commerce.services", fromlist=["upsert_orders"]).upsert_orders

    def upsert_then_fail(**kwargs):
        real_upsert(**kwargs)
        raise OperationalError("deadlock detected")

    with mock.patch("commerce.services.upsert_orders", side_effect=upsert_then_fail):
        before = timezone.now()
        assert webhook_process(webhook_id=webhook.pk) == "pending"
    webhook.refresh_from_db()
    assert webhook.status == "pending" and webhook.retry_count == 1 and webhook.locked_until is None
    assert "OperationalError: deadlock detected" in webhook.error_message
    assert "Traceback" in webhook.metadata["traceback"]
    assert timedelta(seconds=26) <= webhook.next_attempt_at - before <= timedelta(seconds=34)
    assert not Order.objects.exists()
    assert webhook_process(webhook_id=webhook.pk) is None  # not due yet
    IncomingWebhook.objects.filter(pk=webhook.pk).update(next_attempt_at=timezone.now())
    assert webhook_process(webhook_id=webhook.pk) == "completed"
    webhook.refresh_from_db()
    assert webhook.error_message == "" and "traceback" not in webhook.metadata
    assert Order.objects.count() == 1


def test_the_retry_nudge_carries_the_backoff(client, shop, nudges, monkeypatch, django_capture_on_commit_callbacks):
    from webhooks.inbound.tasks import process_incoming_webhook

    sent = []
    monkeypatch.setattr(process_incoming_webhook, "apply_async", lambda args, **options: sent.append(options))
    webhook = _receive(client, shop)
    with mock.patch("commerce.services.upsert_orders", side_effect=RuntimeError("boom")):
        with django_capture_on_commit_callbacks(execute=True):
            webhook_process(webhook_id=webhook.pk)
    assert sent and 25 < sent[-1]["countdown"] < 35 and sent[-1]["retry"] is False


def test_backoff_doubles_and_is_capped(settings):
    settings.WEBHOOK_INCOMING_RETRY_BASE_SECONDS = 30
    settings.WEBHOOK_INCOMING_RETRY_MAX_SECONDS = 200
    delays = [processing.retry_delay(n) for n in range(1, 6)]
    assert 27 <= delays[0] <= 33 and 54 <= delays[1] <= 66 and 108 <= delays[2] <= 132
    assert delays[3] == delays[4] == 200


def test_retries_exhausted_fail_the_webhook_and_publish_webhook_failed(client, shop, nudges):
    webhook = _receive(client, shop)
    IncomingWebhook.objects.filter(pk=webhook.pk).update(retry_count=5)
    with mock.patch("commerce.services.upsert_orders", side_effect=RuntimeError("still broken")), \
            mock.patch("webhooks.inbound.services.publish") as publish:
        assert webhook_process(webhook_id=webhook.pk) == "failed"
    webhook.refresh_from_db()
    assert webhook.status == "failed" and webhook.retry_count == 5 and webhook.processed_at
    assert webhook.error_message == "RuntimeError: still broken"
    event, payload, organization = publish.call_args.args
    assert event == "webhook.failed" and organization == shop.organization
    assert payload["incoming_webhook"] == {"id": webhook.pk, "event_type": "orders/updated",
                                           "error": "RuntimeError: still broken"}


def test_a_payload_that_cannot_be_imported_fails_at_once(client, shop, nudges):
    webhook = _receive(client, shop, raw_order(currency=None, total_price=None))
    assert webhook_process(webhook_id=webhook.pk) == "failed"
    webhook.refresh_from_db()
    assert webhook.retry_count == 0 and webhook.status == "failed"
    assert webhook.error_message and not Order.objects.exists()


def test_secrets_are_scrubbed_from_recorded_errors(client, shop, nudges):
    webhook = _receive(client, shop)
    with mock.patch("commerce.services.upsert_orders",
                    side_effect=RuntimeError(f"auth failed with {shop.webhook_secret}")):
        webhook_process(webhook_id=webhook.pk)
    webhook.refresh_from_db()
    assert shop.webhook_secret not in webhook.error_message + webhook.metadata["traceback"]
    assert "[REDACTED]" in webhook.error_message


def test_a_failed_webhook_reaches_subscribed_endpoints(client, shop, nudges):
    from tests.webhooks.outbound_support import make_endpoint

    with mock.patch("connectors.outbound.resolve", return_value=[__import__("ipaddress").ip_address("93.184.216.34")]):
        make_endpoint(shop.organization, "https://hooks.example.com/in", events=["webhook.failed"])
    webhook = _receive(client, shop, raw_order(total_price=None))
    with mock.patch("webhooks.events.nudge_dispatcher"):
        webhook_process(webhook_id=webhook.pk)
    assert WebhookDelivery.objects.get().payload["data"]["incoming_webhook"]["id"] == webhook.pk


# ---------------------------------------------------------------- the sweeper


def test_sweeper_takes_back_a_dead_workers_row_after_its_lease(client, shop, nudges, settings,
                                                               django_capture_on_commit_callbacks):
    settings.WEBHOOK_INCOMING_LEASE_SECONDS = 60
    webhook = _receive(client, shop)
    assert webhook_claim(webhook.pk) is not None  # a worker claimed it, then died
    nudges.clear()
    assert webhooks_sweep() == processing.SweepResult(reclaimed=0, exhausted=0, requeued=0)
    later = timezone.now() + timedelta(seconds=61)
    with mock.patch("django.utils.timezone.now", return_value=later):
        with django_capture_on_commit_callbacks(execute=True):
            assert webhooks_sweep().reclaimed == 1
        webhook.refresh_from_db()
        assert (webhook.status, webhook.retry_count, webhook.locked_until) == ("pending", 1, None)
        assert "lease expired" in webhook.error_message
        assert nudges == [webhook.pk]
        assert webhook_process(webhook_id=webhook.pk) == "completed"
    assert Order.objects.count() == 1


def test_sweeper_fails_a_row_whose_worker_keeps_dying(client, shop, nudges):
    webhook = _receive(client, shop)
    webhook_claim(webhook.pk)
    IncomingWebhook.objects.filter(pk=webhook.pk).update(retry_count=5, locked_until=timezone.now() - timedelta(1))
    with mock.patch("webhooks.inbound.services.publish") as publish:
        assert webhooks_sweep().exhausted == 1
    assert IncomingWebhook.objects.get(pk=webhook.pk).status == "failed"
    assert publish.call_args.args[0] == "webhook.failed"


def test_sweeper_requeues_pending_rows_whose_message_was_never_sent_once_per_run(client, shop, nudges, settings,
                                                                                 django_capture_on_commit_callbacks):
    settings.WEBHOOK_INCOMING_SWEEP_AFTER_SECONDS = 60
    unsent = _receive(client, shop)
    fresh = _receive(client, shop)
    IncomingWebhook.objects.filter(pk=unsent.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=120),
                                                        nudged_at=None)  # its send failed
    nudges.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert webhooks_sweep().requeued == 1
        assert webhooks_sweep().requeued == 0  # marked: not nudged again on every run
    assert nudges == [unsent.pk]
    assert fresh.pk not in nudges
    assert IncomingWebhook.objects.get(pk=unsent.pk).nudged_at is not None


def test_sweeper_never_requeues_a_row_whose_message_is_still_on_its_way(client, shop, nudges, settings,
                                                                       django_capture_on_commit_callbacks):
    """A backlog: the row waited far longer than the sweep grace, but its one message is still queued."""
    settings.WEBHOOK_INCOMING_SWEEP_AFTER_SECONDS = 60
    settings.WEBHOOK_INCOMING_NUDGE_TTL_SECONDS = 900
    webhook = _receive(client, shop)
    assert webhook.nudged_at is not None  # marked in the row's own insert; its message goes after commit
    nudges.clear()
    for seconds in (61, 600, 899):
        with mock.patch("django.utils.timezone.now", return_value=webhook.nudged_at + timedelta(seconds=seconds)):
            with django_capture_on_commit_callbacks(execute=True):
                assert webhooks_sweep().requeued == 0
    assert nudges == []
    # Older than the TTL: the broker lost it; one more message, and the row marked again.
    later = webhook.nudged_at + timedelta(seconds=901)
    with mock.patch("django.utils.timezone.now", return_value=later):
        with django_capture_on_commit_callbacks(execute=True):
            assert webhooks_sweep().requeued == 1
            assert webhooks_sweep().requeued == 0
    assert nudges == [webhook.pk]
    assert IncomingWebhook.objects.get(pk=webhook.pk).nudged_at == later


def test_a_retry_waiting_for_its_countdown_is_not_presumed_lost_before_it_was_due(client, shop, nudges, settings):
    settings.WEBHOOK_INCOMING_NUDGE_TTL_SECONDS = 900
    webhook = _receive(client, shop)
    now = timezone.now()
    # Failed an hour ago; its retry message (countdown 50 min) became due 10 minutes ago.
    IncomingWebhook.objects.filter(pk=webhook.pk).update(nudged_at=now - timedelta(hours=1),
                                                         next_attempt_at=now - timedelta(minutes=10))
    nudges.clear()
    assert webhooks_sweep().requeued == 0
    IncomingWebhook.objects.filter(pk=webhook.pk).update(next_attempt_at=now - timedelta(minutes=16))
    assert webhooks_sweep().requeued == 1


def test_a_failed_send_unmarks_the_row_so_the_sweeper_sends_it_later(client, shop, monkeypatch,
                                                                     django_capture_on_commit_callbacks):
    from webhooks.inbound.tasks import process_incoming_webhook

    def broker_down(*args, **options):
        raise ConnectionRefusedError("broker down")

    monkeypatch.setattr(process_incoming_webhook, "apply_async", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        webhook = _receive(client, shop)
    assert IncomingWebhook.objects.get(pk=webhook.pk).nudged_at is None


def test_a_claim_clears_the_mark(client, shop, nudges):
    webhook = _receive(client, shop)
    assert IncomingWebhook.objects.get(pk=webhook.pk).nudged_at is not None
    webhook_claim(webhook.pk)
    assert IncomingWebhook.objects.get(pk=webhook.pk).nudged_at is None


def test_a_retry_after_a_failure_is_marked_with_its_message(client, shop, nudges, settings,
                                                           django_capture_on_commit_callbacks):
    webhook = _receive(client, shop)
    nudges.clear()
    with mock.patch.object(processing.handlers, "handle", side_effect=OperationalError("database went away")):
        with django_capture_on_commit_callbacks(execute=True):
            assert webhook_process(webhook_id=webhook.pk) == "pending"
    webhook.refresh_from_db()
    assert nudges == [webhook.pk] and webhook.nudged_at is not None


def test_sweep_task_reports_counts(client, shop, nudges):
    from webhooks.inbound.tasks import sweep_incoming_webhooks

    assert sweep_incoming_webhooks() == {"reclaimed": 0, "exhausted": 0, "requeued": 0}
