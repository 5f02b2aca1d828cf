"""Two sync requests at the same instant: the database lets exactly one job exist (PostgreSQL, real threads)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from syncjobs import services
from syncjobs.models import JobType, SyncJob, Trigger
from tests.factories import IntegrationFactory, OrganizationFactory
from tests.syncjobs import fakes

pytestmark = pytest.mark.postgres


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_requests_one_runs_the_other_is_refused(api_client_for, shop, monkeypatch):
    org = OrganizationFactory()
    integration = IntegrationFactory(organization=org, provider="fakeshop")
    clients = [api_client_for(org, "operator") for _ in range(2)]
    barrier, answers = threading.Barrier(2), []
    real_start = services.sync_job_start

    def slow_start(**kwargs):
        barrier.wait(5)  # both requests are inside the view, past every check, before either inserts
        return real_start(**kwargs)

    monkeypatch.setattr(services, "sync_job_start", slow_start)

    def request(client):
        try:
            answers.append(client.post(f"/api/integrations/{integration.pk}/sync/", {"job_type": "sync_orders"},
                                       format="json"))
        finally:
            connection.close()

    threads = [threading.Thread(target=request, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(15)

    assert sorted(a.status_code for a in answers) == [202, 409]
    refused = next(a for a in answers if a.status_code == 409).json()["error"]
    accepted = next(a for a in answers if a.status_code == 202).json()
    assert refused["code"] == "SYNC_FAILED" and refused["details"]["job_id"] == accepted["id"]
    assert SyncJob.objects.filter(integration=integration, job_type=JobType.SYNC_ORDERS).count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_workers_handed_the_same_job_run_it_once(shop, writer):
    integration = IntegrationFactory(provider="fakeshop")
    shop.add_orders(30)
    job = services.sync_job_start(integration=integration, trigger=Trigger.API, job_type=JobType.SYNC_ORDERS,
                                  enqueue=False)
    barrier, results = threading.Barrier(2), []

    def worker():
        try:
            barrier.wait(5)
            results.append(services.sync_job_run(job_id=job.pk, writers=writer.writers()))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(15)
    assert sorted(r is None for r in results) == [False, True]
    done = SyncJob.objects.get(pk=job.pk)
    assert done.attempts == 1 and done.records_created == 30 and len(writer.stored["orders"]) == 30
    assert fakes.SHOP is shop
