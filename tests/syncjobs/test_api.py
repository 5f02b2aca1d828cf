"""The sync API: start (202, one at a time), list and filter, watch, cancel; roles, tenancy, strict input."""

from __future__ import annotations

import pytest

from syncjobs import services
from syncjobs.models import JobStatus, JobType, SyncJob, Trigger
from tests.factories import IntegrationFactory

pytestmark = pytest.mark.django_db


def sync_url(integration) -> str:
    return f"/api/integrations/{integration.pk}/sync/"


def test_an_operator_starts_a_sync_and_gets_the_job(
    operator_api, integration, enqueued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        answer = operator_api.post(sync_url(integration), {"job_type": "sync_orders"}, format="json")
    assert answer.status_code == 202, answer.json()
    body = answer.json()
    assert body["status"] == "pending" and body["job_type"] == "sync_orders" and body["trigger"] == "api"
    assert body["integration"] == integration.pk and body["integration_code"] == "fake-shop"
    assert body["cursor"]["steps"] == [{"resource": "orders", "since": None}]
    assert enqueued == [body["id"]]


def test_the_default_is_the_scheduled_sync_of_everything(operator_api, integration):
    body = operator_api.post(sync_url(integration), {}, format="json").json()
    assert body["job_type"] == "scheduled_sync"
    assert [s["resource"] for s in body["cursor"]["steps"]] == ["products", "inventory", "orders"]


def test_a_second_request_is_refused_naming_the_running_job(operator_api, integration):
    first = operator_api.post(sync_url(integration), {"job_type": "sync_orders"}, format="json").json()
    second = operator_api.post(sync_url(integration), {"job_type": "sync_orders"}, format="json")
    assert second.status_code == 409
    error = second.json()["error"]
    assert error["code"] == "SYNC_FAILED" and str(first["id"]) in error["message"]
    assert error["details"] == {"job_id": first["id"], "job_type": "sync_orders", "status": "pending"}
    assert SyncJob.objects.count() == 1
    # another type is another queue
    assert operator_api.post(sync_url(integration), {"job_type": "sync_products"}, format="json").status_code == 202


def test_the_database_refuses_two_active_jobs_of_a_type(integration):
    from django.db import IntegrityError, transaction

    SyncJob.objects.create(integration=integration, organization=integration.organization,
                           job_type="sync_orders", trigger="api")
    with pytest.raises(IntegrityError), transaction.atomic():
        SyncJob.objects.create(integration=integration, organization=integration.organization,
                               job_type="sync_orders", trigger="api", status="running")
    SyncJob.objects.create(integration=integration, organization=integration.organization,
                           job_type="sync_orders", trigger="api", status="completed")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"job_type": "nope"}, "job_type"),
        ({"since": 1700000000}, "since"),
        ({"since": "yesterday"}, "since"),
        ({"full": "true"}, "full"),
        ({"full": True, "since": "2024-01-01"}, "full"),
        ({"until": "2024-01-01"}, "until"),
        ({"job_type": "backfill", "since": "2024-02-01", "until": "2024-01-01"}, "until"),
        ({"since": "2999-01-01"}, "since"),
        ({"jobtype": "sync_orders"}, "jobtype"),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(operator_api, integration, body, field):
    answer = operator_api.post(sync_url(integration), body, format="json")
    assert answer.status_code == 400, answer.json()
    assert answer.json()["error"]["code"] == "VALIDATION_ERROR" and field in answer.json()["error"]["details"]
    assert not SyncJob.objects.exists()


def test_what_the_provider_cannot_do_is_refused(operator_api, integration):
    answer = operator_api.post(sync_url(integration), {"job_type": "sync_campaigns"}, format="json")
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "CAPABILITY_NOT_SUPPORTED"


def test_an_inactive_integration_does_not_sync(operator_api, integration):
    integration.status = "inactive"
    integration.save()
    answer = operator_api.post(sync_url(integration), {}, format="json")
    error = answer.json()["error"]
    assert answer.status_code == 409 and error["code"] == "INTEGRATION_INACTIVE"
    assert f"POST /api/integrations/{integration.pk}/activate/" in error["message"]  # the call that fixes it
    assert error["details"]["integration_status"] == "inactive"
    assert not SyncJob.objects.exists()


def test_an_integration_waiting_for_credentials_says_how_to_give_them(operator_api, integration):
    integration.status = "pending_auth"
    integration.save()
    error = operator_api.post(sync_url(integration), {}, format="json").json()["error"]
    assert error["code"] == "INTEGRATION_INACTIVE"
    assert "reconnect it" in error["message"] and f"PATCH /api/integrations/{integration.pk}/" in error["message"]


def test_a_backfill_takes_a_date_range(operator_api, integration):
    body = operator_api.post(sync_url(integration), {"job_type": "backfill", "since": "2024-01-01",
                                                     "until": "2024-02-01T00:00:00Z"}, format="json").json()
    assert body["params"] == {"since": "2024-01-01T00:00:00+00:00", "until": "2024-02-01T00:00:00+00:00"}


def test_viewers_cannot_start_or_cancel(viewer_api, integration):
    assert viewer_api.post(sync_url(integration), {}, format="json").status_code == 403
    job = services.sync_job_start(integration=integration, trigger=Trigger.API)
    assert viewer_api.post(f"/api/sync-jobs/{job.pk}/cancel/").status_code == 403
    assert viewer_api.get(f"/api/sync-jobs/{job.pk}/").status_code == 200


def test_another_organizations_integration_and_jobs_are_not_found(api_client_for, other_org, integration):
    stranger = api_client_for(other_org, "owner")
    job = services.sync_job_start(integration=integration, trigger=Trigger.API)
    answer = stranger.post(sync_url(integration), {}, format="json")
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "INTEGRATION_NOT_FOUND"
    assert stranger.get(f"/api/integrations/{integration.pk}/sync-jobs/").status_code == 404
    assert stranger.get(f"/api/integrations/{integration.pk}/sync-logs/").status_code == 404
    assert stranger.get(f"/api/sync-jobs/{job.pk}/").status_code == 404
    assert stranger.post(f"/api/sync-jobs/{job.pk}/cancel/").status_code == 404
    assert stranger.get("/api/sync-jobs/").json()["results"] == []
    assert SyncJob.objects.get(pk=job.pk).status == "pending"


def test_list_filters_and_an_integrations_sync_jobs(viewer_api, org, integration):
    other = IntegrationFactory(organization=org, provider="fakeshop")
    a = services.sync_job_start(integration=integration, trigger=Trigger.API, job_type=JobType.SYNC_ORDERS)
    b = services.sync_job_start(integration=other, trigger=Trigger.SCHEDULE, job_type=JobType.SYNC_PRODUCTS)
    SyncJob.objects.filter(pk=b.pk).update(status=JobStatus.FAILED)

    def ids(query: str) -> list[int]:
        answer = viewer_api.get(f"/api/sync-jobs/{query}")
        assert answer.status_code == 200, answer.json()
        return [job["id"] for job in answer.json()["results"]]

    assert ids("") == [b.pk, a.pk]
    assert ids(f"?integration={integration.pk}") == [a.pk]
    assert ids("?status=failed") == [b.pk]
    assert ids("?job_type=sync_orders&trigger=api") == [a.pk]
    assert ids("?created_after=2000-01-01T00:00:00Z&created_before=2999-01-01T00:00:00Z") == [b.pk, a.pk]
    assert ids("?created_after=2999-01-01T00:00:00Z") == []
    bad = viewer_api.get("/api/sync-jobs/?status=exploded")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "VALIDATION_ERROR"
    jobs = viewer_api.get(f"/api/integrations/{other.pk}/sync-jobs/").json()["results"]
    assert [job["id"] for job in jobs] == [b.pk]
    # The old name answers the same, marked deprecated in the schema.
    assert viewer_api.get(f"/api/integrations/{other.pk}/sync-logs/").json()["results"] == jobs


def test_a_job_shows_its_progress(viewer_api, integration, shop, writer):
    shop.add_orders(15)
    job = services.sync_job_start(integration=integration, trigger=Trigger.API, job_type=JobType.SYNC_ORDERS)
    services.sync_job_run(job_id=job.pk, writers=writer.writers())
    body = viewer_api.get(f"/api/sync-jobs/{job.pk}/").json()
    assert body["status"] == "completed" and body["records_processed"] == 15 and body["records_created"] == 15
    assert body["pages_processed"] == 2 and body["duration_seconds"] >= 0 and body["completed_at"]
    assert viewer_api.get("/api/sync-jobs/abc/").status_code == 404


def test_cancel(operator_api, integration):
    job = services.sync_job_start(integration=integration, trigger=Trigger.API, job_type=JobType.SYNC_ORDERS)
    answer = operator_api.post(f"/api/sync-jobs/{job.pk}/cancel/")
    assert answer.status_code == 200 and answer.json()["status"] == "cancelled"
    assert operator_api.post(f"/api/sync-jobs/{job.pk}/cancel/").status_code == 200  # again: a no-op
    assert operator_api.post(f"/api/sync-jobs/{job.pk}/cancel/", {"now": True}, format="json").status_code == 400

    running = services.sync_job_start(integration=integration, trigger=Trigger.API, job_type=JobType.SYNC_ORDERS)
    services.sync_job_claim(job_id=running.pk)
    body = operator_api.post(f"/api/sync-jobs/{running.pk}/cancel/").json()
    assert body["status"] == "running" and body["cancel_requested"] is True  # it stops after its page

    SyncJob.objects.filter(pk=running.pk).update(status=JobStatus.COMPLETED)
    finished = operator_api.post(f"/api/sync-jobs/{running.pk}/cancel/")
    assert finished.status_code == 409 and finished.json()["error"]["code"] == "SYNC_JOB_FINISHED"
