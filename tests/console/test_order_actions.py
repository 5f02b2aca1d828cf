"""The order list's "Re-pull from channel": one best-effort nudge per order after commit, and an audit event."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent
from commerce.models import Order
from syncjobs.tasks import repull_order

pytestmark = pytest.mark.django_db


def test_repull_nudges_the_pipeline_task_once_per_order_after_commit(org, staff, shop_integration, monkeypatch,
                                                                     django_capture_on_commit_callbacks):
    orders = [Order.objects.create(organization=org, integration=shop_integration, external_id=f"90{n}",
                                   currency="RON", placed_at=timezone.now()) for n in range(2)]
    sent = []
    monkeypatch.setattr("config.broker.nudge",
                        lambda task, args, kwargs=None, **options: sent.append((task.name, args)) or True)
    with django_capture_on_commit_callbacks(execute=True):
        response = staff(org, "operator").post(reverse("admin:commerce_order_changelist"), {
            "action": "repull_from_channel", "_selected_action": [o.pk for o in orders]})
    assert response.status_code == 302
    assert sorted(sent) == sorted((repull_order.name, (o.pk,)) for o in orders)
    assert AuditEvent.objects.filter(action="order.repull_requested").count() == 2
