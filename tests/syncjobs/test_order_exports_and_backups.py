"""Who the order export and the backup reach, and which orders an ERP is due; the backup as a cron job.

The provider calls themselves are tested per connector (tests/connectors/test_onec_connector.py,
test_google_drive_connector.py); here is the pipelines' choice of integrations and orders.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from commerce.models import ExternalRef, Order, OrderStatus, ResourceType
from commerce.services.order_export import order_exports_due
from syncjobs import cron, tasks
from syncjobs.backups import integrations_backing_up
from syncjobs.order_exports import integrations_exporting_orders
from tests.factories import IntegrationFactory

pytestmark = pytest.mark.django_db


def test_only_active_erps_that_take_orders_are_exported_to():
    erp = IntegrationFactory(provider="onec", type="erp")
    IntegrationFactory(provider="onec", type="erp", status="inactive")
    IntegrationFactory(provider="sandbox")
    assert integrations_exporting_orders() == [erp.pk]


def test_only_active_file_stores_with_a_backup_folder_are_backed_up():
    drive = IntegrationFactory(provider="google_drive", type="storage", config={"backup": {"folder_id": "F1"}})
    IntegrationFactory(provider="google_drive", type="storage", config={"folders": ["F2"]})
    IntegrationFactory(provider="google_drive", type="storage", status="error", config={"backup": {"folder_id": "F"}})
    IntegrationFactory(provider="sandbox", config={"backup": {"folder_id": "F3"}})
    assert integrations_backing_up() == [drive.pk]


def test_an_erp_is_due_the_organizations_other_orders_placed_since_it_was_connected_once():
    erp = IntegrationFactory(provider="onec", type="erp", config={"export_orders_since": "2024-05-01T00:00:00+00:00"})
    shop = IntegrationFactory(organization=erp.organization, provider="sandbox")

    def order(number, *, placed, integration=shop, status=OrderStatus.PAID, organization=erp.organization):
        return Order.objects.create(organization=organization, integration=integration, external_number=number,
                                    external_id=number,
                                    currency="RON", total=Decimal("1"), status=status,
                                    placed_at=datetime(2024, 5, placed, tzinfo=UTC) if placed else
                                    datetime(2024, 4, 30, tzinfo=UTC))
    due = order("due", placed=2)
    manual = order("manual", placed=3, integration=None)  # an order keyed in the ERP: no channel
    order("before", placed=None)
    order("cancelled", placed=4, status=OrderStatus.CANCELLED)
    order("its-own", placed=5, integration=erp)
    order("elsewhere", placed=6, organization=IntegrationFactory().organization)
    exported = order("exported", placed=7)
    ExternalRef.objects.create(integration=erp, resource_type=ResourceType.ORDER, external_id="guid",
                               object_id=exported.pk)

    assert order_exports_due(integration=erp) == [due, manual]


def test_backup_is_a_cron_job_that_starts_one_task_per_integration(monkeypatch, settings):
    settings.CRON_SECRET = "cron-secret-123456"
    sent = []
    monkeypatch.setattr(cron, "_send", lambda name, kwargs, *_: sent.append((name, kwargs)))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer cron-secret-123456")
    assert client.post("/api/cron/backup/").status_code == 202
    assert sent == [("syncjobs.tasks.backup_records", {})]

    drive = IntegrationFactory(provider="google_drive", type="storage", config={"backup": {"folder_id": "F1"}})
    started = []
    monkeypatch.setattr(tasks.backup_integration, "delay", started.append)
    assert tasks.backup_records() == [drive.pk] and started == [drive.pk]
