"""A signed content.published starts a sync of each affected integration, in the transaction that completes it."""

from __future__ import annotations

import pytest

from events.models import InboundEvent
from events.processing import event_process
from syncjobs.models import SyncJob
from syncjobs.tasks import run_sync_job
from tests.events.sender import send, signed
from tests.factories import IntegrationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def jobs_sent(monkeypatch):
    sent: list[int] = []
    monkeypatch.setattr(run_sync_job, "apply_async", lambda args, **options: sent.append(args[0]))
    return sent


@pytest.fixture
def shops(org, other_org):
    return {
        "a": IntegrationFactory(organization=org, code="shop-a", auto_sync_enabled=True),
        "b": IntegrationFactory(organization=org, code="shop-b", auto_sync_enabled=True),
        "manual": IntegrationFactory(organization=org, code="shop-manual", auto_sync_enabled=False),
        "inactive": IntegrationFactory(organization=org, code="shop-off", status="inactive", auto_sync_enabled=True),
        "elsewhere": IntegrationFactory(organization=other_org, code="shop-a", auto_sync_enabled=True),
    }


def publish_content(source, data, capture, nudges) -> InboundEvent:
    src, secret = source
    with capture(execute=True):
        assert send(src.key, *signed(secret, {"type": "content.published", "data": data})).status_code == 202
    with capture(execute=True):
        assert event_process(event_id=nudges[-1]) in ("completed", "failed")
    return InboundEvent.objects.get(pk=nudges[-1])


def test_the_named_integrations_sync(source, nudges, shops, jobs_sent, django_capture_on_commit_callbacks):
    event = publish_content(source, {"content_id": "c-9", "integrations": ["shop-a", "ghost"]},
                            django_capture_on_commit_callbacks, nudges)

    [job] = SyncJob.objects.all()
    assert (job.integration_id, job.job_type, job.trigger) == (shops["a"].pk, "sync_products", "webhook")
    assert jobs_sent == [job.pk]
    assert event.status == "completed" and event.result["unknown"] == ["ghost"]
    assert [s["sync_job"] for s in event.result["started"]] == [job.pk]


def test_without_a_list_every_active_auto_sync_integration_of_the_organization_syncs(
        source, nudges, shops, jobs_sent, django_capture_on_commit_callbacks):
    event = publish_content(source, {"job_type": "sync_inventory"}, django_capture_on_commit_callbacks, nudges)

    synced = set(SyncJob.objects.values_list("integration_id", flat=True))
    assert synced == {shops["a"].pk, shops["b"].pk}
    assert set(SyncJob.objects.values_list("job_type", flat=True)) == {"sync_inventory"}
    assert {s["code"] for s in event.result["skipped"]} == {"shop-manual", "shop-off"}


def test_a_sync_already_pending_is_not_doubled(source, nudges, shops, jobs_sent, django_capture_on_commit_callbacks):
    publish_content(source, {"integrations": ["shop-a"]}, django_capture_on_commit_callbacks, nudges)
    again = publish_content(source, {"integrations": ["shop-a"]}, django_capture_on_commit_callbacks, nudges)

    assert SyncJob.objects.count() == 1
    assert again.status == "completed" and again.result["started"] == []
    assert "already pending" in again.result["skipped"][0]["reason"]


@pytest.mark.parametrize("data", [{"job_type": "backfill"}, {"integrations": "shop-a"}, {"integrations": [1]}])
def test_a_malformed_content_published_fails_and_starts_nothing(source, nudges, shops, jobs_sent, data,
                                                                django_capture_on_commit_callbacks):
    event = publish_content(source, data, django_capture_on_commit_callbacks, nudges)
    assert event.status == "failed" and event.retry_count == 0
    assert not SyncJob.objects.exists() and jobs_sent == []


def test_named_social_accounts_sync_their_integrations_posts(
        source, nudges, shops, jobs_sent, org, django_capture_on_commit_callbacks):
    from connectors import registry
    from social.models import SocialAccount
    from tests.social.fakes import FakeSocialConnector

    registry.register(FakeSocialConnector)
    try:
        social = IntegrationFactory(organization=org, code="social-a", provider="fake-social",
                                    auto_sync_enabled=True)
        SocialAccount.objects.create(organization=org, integration=social, external_id="page-1")
        event = publish_content(source, {"content_id": "c-1", "social_accounts": ["page-1", "page-9"]},
                                django_capture_on_commit_callbacks, nudges)
    finally:
        registry.unregister("fake-social")

    [job] = SyncJob.objects.all()
    assert (job.integration_id, job.job_type) == (social.pk, "sync_posts")
    assert event.result["unknown"] == ["page-9"] and jobs_sent == [job.pk]
