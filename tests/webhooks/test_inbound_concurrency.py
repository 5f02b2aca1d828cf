"""Concurrency on PostgreSQL: identical deliveries racing, and workers racing for one row.

SQLite serializes writers (and its in-memory test database refuses a second
concurrent writer outright), so these run where the races are real.
"""

from __future__ import annotations

import threading
import time
from unittest import mock

import pytest
from django.db import connection
from django.test import Client

from commerce.models import Order
from tests.factories import IntegrationFactory
from tests.webhooks.inbound_support import (
    SECRET,
    post,
    raw_order,
    receive_url,
    shopify_delivery,
)
from webhooks.inbound.processing import webhook_process
from webhooks.models import IncomingWebhook

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _in_threads(n: int, work) -> list:
    barrier, results, errors = threading.Barrier(n), [], []

    def run():
        try:
            barrier.wait(timeout=10)
            results.append(work())
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return results


def test_three_concurrent_identical_posts_store_one_row_and_make_one_order(eager):
    shop = IntegrationFactory(provider="sandbox", webhook_secret=SECRET)
    body, headers = shopify_delivery(raw_order(), topic="orders/create", webhook_id="raced-1")
    real_save = IncomingWebhook.save

    def slow_save(self, *args, **kwargs):
        real_save(self, *args, **kwargs)
        time.sleep(0.3)  # hold the new index entry uncommitted while the others insert the same key

    with mock.patch.object(IncomingWebhook, "save", slow_save):
        responses = _in_threads(3, lambda: post(Client(), receive_url(shop.route_key), body, headers))

    assert sorted(r.status_code for r in responses) == [200, 200, 202]
    assert len({r.json()["id"] for r in responses}) == 1
    assert IncomingWebhook.objects.count() == 1
    assert IncomingWebhook.objects.get().status == "completed"
    assert Order.objects.count() == 1


def test_workers_racing_for_one_row_process_it_once(nudges):
    shop = IntegrationFactory(provider="sandbox", webhook_secret=SECRET)
    body, headers = shopify_delivery(raw_order())
    webhook_id = post(Client(), receive_url(shop.route_key), body, headers).json()["id"]

    outcomes = _in_threads(4, lambda: webhook_process(webhook_id=webhook_id))

    assert sorted(outcomes, key=str) == [None, None, None, "completed"]
    assert Order.objects.count() == 1
