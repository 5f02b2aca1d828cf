"""publish(): one delivery per subscribed active endpoint, in the caller's transaction, one nudge after commit."""

from __future__ import annotations

import ipaddress
from unittest import mock

import pytest
from django.db import transaction

from tests.factories import IntegrationFactory, OrganizationFactory
from tests.webhooks.outbound_support import make_endpoint
from webhooks.events import CATALOG, event_catalog, publish
from webhooks.models import DeliveryStatus, WebhookDelivery
from webhooks.outbound.endpoints import endpoint_update

pytestmark = pytest.mark.django_db

URL = "https://hooks.example.com/in"


@pytest.fixture(autouse=True)
def _public_dns(monkeypatch):
    monkeypatch.setattr("connectors.outbound.resolve", lambda host: [ipaddress.ip_address("93.184.216.34")])


@pytest.fixture
def nudges():
    with mock.patch("webhooks.tasks.dispatch_due_deliveries.apply_async") as delay:
        yield delay


def test_matching_by_name_star_integration_and_active(org):
    shop, other_shop = IntegrationFactory(organization=org), IntegrationFactory(organization=org)
    exact, _ = make_endpoint(org, URL, events=["order.created"])
    star, _ = make_endpoint(org, URL, events=["*"])
    bound, _ = make_endpoint(org, URL, events=["*"], integration=shop)
    make_endpoint(org, URL, events=["order.updated"])
    make_endpoint(org, URL, events=["*"], integration=other_shop)
    off, _ = make_endpoint(org, URL, events=["*"])
    endpoint_update(endpoint=off, data={"is_active": False})
    make_endpoint(OrganizationFactory(), URL, events=["*"])

    deliveries = publish("order.created", {"order": {"id": 1}}, org, integration=shop)

    assert {d.endpoint_id for d in deliveries} == {exact.pk, star.pk, bound.pk}
    assert len({d.event_id for d in deliveries}) == 1
    assert all(d.status == DeliveryStatus.PENDING and d.organization_id == org.pk for d in deliveries)
    # Without an integration, endpoints bound to one hear nothing.
    assert {d.endpoint_id for d in publish("order.created", {}, org)} == {exact.pk, star.pk}


def test_publish_in_a_rolled_back_transaction_writes_and_sends_nothing(org, nudges, django_capture_on_commit_callbacks):
    make_endpoint(org, URL)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            assert len(publish("order.created", {}, org)) == 1
            raise RuntimeError("the change that caused the event failed")
    assert WebhookDelivery.objects.count() == 0
    assert callbacks == [] and not nudges.called


def test_one_nudge_per_transaction_and_only_after_commit(org, nudges, django_capture_on_commit_callbacks):
    make_endpoint(org, URL)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with transaction.atomic():
            for n in range(5):
                publish("order.created", {"n": n}, org)
            assert not nudges.called  # nothing leaves inside the transaction
    assert WebhookDelivery.objects.count() == 5
    assert len(callbacks) == 1 and nudges.call_count == 1


def test_a_rolled_back_savepoint_takes_its_deliveries_and_nudge_along(org, nudges, django_capture_on_commit_callbacks):
    make_endpoint(org, URL)
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            try:
                with transaction.atomic():
                    publish("order.created", {}, org)
                    raise RuntimeError
            except RuntimeError:
                pass
            publish("order.updated", {}, org)
    assert list(WebhookDelivery.objects.values_list("event", flat=True)) == ["order.updated"]
    assert nudges.call_count == 1


def test_no_endpoint_no_delivery_no_nudge(org, nudges, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert publish("order.created", {}, org) == []
    assert callbacks == []


def test_unknown_event_and_foreign_integration_are_bugs(org):
    with pytest.raises(ValueError, match="Unknown webhook event type"):
        publish("order.exploded", {}, org)
    with pytest.raises(ValueError, match="another organization"):
        publish("order.created", {}, org, integration=IntegrationFactory())


def test_catalog_has_every_event_the_product_publishes():
    assert {
        "integration.connected", "integration.disconnected", "integration.error", "integration.synced",
        "sync_job.failed", "order.created", "order.updated", "order.fulfilled", "inventory.low_stock",
        "webhook.delivered", "webhook.failed", "endpoint.disabled", "ads.suggestions_ready", "ping",
        "campaign.updated",
    } == set(CATALOG)
    for entry in event_catalog():
        assert set(entry["example"]) == {"type", "timestamp", "data"} and entry["example"]["type"] == entry["type"]


def test_tasks_are_registered_and_the_beat_sweeps(db):
    from django_celery_beat.models import PeriodicTask

    from config.celery import app

    app.loader.import_default_modules()
    for name in ("dispatch_due_deliveries", "deliver", "recover_endpoint", "purge_idempotency_keys"):
        assert f"webhooks.tasks.{name}" in app.tasks
    sweep = PeriodicTask.objects.get(task="webhooks.tasks.dispatch_due_deliveries")
    assert sweep.enabled and sweep.interval.every == 5
