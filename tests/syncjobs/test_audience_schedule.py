"""The hourly audience push: the integrations an operator started an audience on are kept current, others not."""

from __future__ import annotations

import pytest
from django_celery_beat.models import PeriodicTask

from syncjobs import tasks
from syncjobs.audiences import integrations_pushing_audiences
from tests.factories import IntegrationFactory

pytestmark = pytest.mark.django_db


def test_only_integrations_with_a_chosen_list_or_an_earlier_push_are_pushed(org):
    chosen = IntegrationFactory(organization=org, provider="mailchimp", type="email", config={"list_id": "a1"})
    pushed = IntegrationFactory(organization=org, provider="hubspot", type="crm",
                                metadata={"audience_pushed_at": "2026-12-01T10:00:00+00:00"})
    IntegrationFactory(organization=org, provider="hubspot", type="crm")  # connected for campaigns only
    IntegrationFactory(organization=org, provider="mailchimp", type="email")  # no list chosen yet
    IntegrationFactory(organization=org, provider="mailchimp", type="email", config={"list_id": "b2"},
                       status="pending_auth")  # must be reconnected first
    IntegrationFactory(organization=org, provider="sandbox", config={"list_id": "x"})  # has no audiences
    assert integrations_pushing_audiences() == [chosen.pk, pushed.pk]


def test_the_hourly_task_sends_one_push_per_integration(org, monkeypatch):
    chosen = IntegrationFactory(organization=org, provider="mailchimp", type="email", config={"list_id": "a1"})
    sent = []
    monkeypatch.setattr(tasks.push_audience, "delay", lambda integration_id: sent.append(integration_id))
    assert tasks.push_audiences() == [chosen.pk]
    assert sent == [chosen.pk]


def test_beat_runs_it_hourly():
    row = PeriodicTask.objects.get(task="syncjobs.tasks.push_audiences")
    assert (row.interval.every, row.interval.period, row.enabled) == (3600, "seconds", True)
