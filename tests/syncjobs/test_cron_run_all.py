"""`run-all` on a fresh database with due work for every periodic job performs each one, as beat would.

Tasks run in-process (Celery's eager mode) from the cron endpoint. Where a job's
work is a provider call (a sync, a health check, a token refresh, AWB tracking,
processing a webhook or an event, a stock push), the job's own task runs and the
per-item task it fans out to is recorded instead of calling the provider.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone
from rest_framework.test import APIClient

from commerce.models import InventoryPush, Product
from config.celery import app
from events.models import InboundEvent
from events.sources import event_source_create
from integrations.models import IntegrationLog, OAuthState
from syncjobs.cron import PERIODIC_JOBS
from syncjobs.models import SyncJob
from tests.factories import IntegrationFactory
from tests.webhooks.outbound_support import Receiver, make_endpoint
from webhooks.events import publish
from webhooks.models import DeliveryStatus, IdempotencyKey, IncomingWebhook, WebhookDelivery

pytestmark = pytest.mark.django_db

FANNED_OUT = (  # the per-item tasks the periodic jobs send; recorded, not run
    "syncjobs.tasks.check_integration_health",
    "integrations.tasks.refresh_integration_token", "connectors.fancourier.tasks.track_integration_awbs",
    "webhooks.inbound.tasks.process_incoming_webhook", "events.tasks.process_inbound_event",
    "commerce.tasks.push_inventory",
)


@pytest.fixture
def eager(monkeypatch, settings):
    settings.CRON_SECRET = "cron-secret-123456"
    settings.WEBHOOK_ALLOWED_CIDRS = ["127.0.0.0/8"]
    app.loader.import_default_modules()
    monkeypatch.setitem(app.conf, "task_always_eager", True)
    sent: dict[str, list] = {name: [] for name in FANNED_OUT}
    for name in FANNED_OUT:
        monkeypatch.setattr(app.tasks[name], "apply_async",
                            lambda args=(), kwargs=None, _name=name, **options: sent[_name].append(args[0]))
    ran: list[str] = []
    for job in PERIODIC_JOBS:
        task = app.tasks[job.task]
        monkeypatch.setattr(task, "run", lambda *a, _run=task.run, _name=job.task, **k: ran.append(_name)
                            or _run(*a, **k))
    return sent, ran


def test_run_all_performs_every_due_job(org, eager, enqueued, django_capture_on_commit_callbacks):
    sent, ran = eager
    now = timezone.now()
    long_ago = now - timedelta(days=400)
    shop = IntegrationFactory(organization=org, provider="sandbox", auto_sync_enabled=True)
    oauth = IntegrationFactory(organization=org, provider="oauth2_generic", type="api", access_token="at",
                               refresh_token="rt", expires_at=now + timedelta(minutes=1))
    cache.delete(f"oauth:refresh-queued:{oauth.pk}")
    courier = IntegrationFactory(organization=org, provider="fancourier", type="shipping")
    stale_webhook = IncomingWebhook.objects.create(integration=shop, organization=org, body=b"{}",
                                                   next_attempt_at=now - timedelta(minutes=10))
    source, _ = event_source_create(organization=org, name="users")
    stale_event = InboundEvent.objects.create(source=source, organization=org, event_id="e1",
                                              event_type="user.deleted", body=b"{}",
                                              next_attempt_at=now - timedelta(minutes=10))
    product = Product.objects.create(organization=org, sku="SKU-1")
    InventoryPush.objects.create(organization=org, integration=shop, product=product,
                                 requested_at=now - timedelta(hours=1))
    old_state = OAuthState.objects.create(state="s" * 43, provider="sandbox", organization=org,
                                          redirect_uri="https://app.example.com/x", expires_at=long_ago)
    old_key = IdempotencyKey.objects.create(organization=org, key="k", scope="s", request_hash="h",
                                            response_status=201, response_body="{}")
    IdempotencyKey.objects.filter(pk=old_key.pk).update(created_at=long_ago)
    old_log = IntegrationLog.objects.create(integration=shop, organization=org, action="x", created_at=long_ago)
    watermark, old_job = (SyncJob.objects.create(integration=shop, organization=org, job_type="sync_orders",
                                                 trigger="api", status=status, completed_at=long_ago)
                          for status in ("completed", "failed"))
    SyncJob.objects.filter(pk__in=[watermark.pk, old_job.pk]).update(created_at=long_ago)

    with Receiver(200) as receiver:
        make_endpoint(org, receiver.url, events=["order.created"])
        [delivery] = publish("order.created", {"order": {"id": 1}}, org)
        with django_capture_on_commit_callbacks(execute=True):
            answer = APIClient().post("/api/cron/run-all/", HTTP_AUTHORIZATION="Bearer cron-secret-123456")

    assert answer.status_code == 202, answer.json()
    assert answer.json()["enqueued"] == [job.task for job in PERIODIC_JOBS]
    assert sorted(ran) == sorted(job.task for job in PERIODIC_JOBS)
    # dispatch-deliveries: the due delivery reached its endpoint.
    assert len(receiver.requests) == 1
    assert WebhookDelivery.objects.get(pk=delivery.pk).status == DeliveryStatus.DELIVERED
    # sweep-webhooks, sweep-events: what waited too long is nudged again.
    assert sent["webhooks.inbound.tasks.process_incoming_webhook"] == [stale_webhook.pk]
    assert sent["events.tasks.process_inbound_event"] == [stale_event.pk]
    # run-due-syncs: the shop's due schedules started their syncs (inventory waits for its products), and every
    # integration's health check was sent.
    jobs = SyncJob.objects.filter(integration=shop, trigger="schedule")
    assert {job.job_type for job in jobs} == {"sync_products", "sync_orders", "sync_order_status"}
    assert sorted(enqueued) == sorted(job.pk for job in jobs)  # tests/syncjobs/conftest.py records the messages
    # sweep-pushes, refresh-tokens, sync-awb: each fanned out to its integration.
    assert sent["commerce.tasks.push_inventory"] == [shop.pk]
    assert sent["integrations.tasks.refresh_integration_token"] == [oauth.pk]
    assert set(sent["syncjobs.tasks.check_integration_health"]) == {shop.pk, oauth.pk, courier.pk}
    assert sent["connectors.fancourier.tasks.track_integration_awbs"] == [courier.pk]
    # The purges.
    assert not OAuthState.objects.filter(pk=old_state.pk).exists()
    assert not IdempotencyKey.objects.filter(pk=old_key.pk).exists()
    assert not IntegrationLog.objects.filter(pk=old_log.pk).exists()
    assert not SyncJob.objects.filter(pk=old_job.pk).exists() and SyncJob.objects.filter(pk=watermark.pk).exists()
