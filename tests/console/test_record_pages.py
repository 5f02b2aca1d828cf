"""A record's page in the console: the list's actions for that one record, and values a person reads — bodies
indented, money with its currency's decimals, addresses as lines, times with seconds and zone, attempts numbered
as the delivery counts them, and an order's shipping as the channel reports it."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from unittest import mock

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent
from commerce.models import Order
from console.formatting import address, money, pretty_body
from syncjobs.models import JobStatus, JobType, SyncJob, Trigger
from tests.factories import IntegrationFactory, IntegrationLogFactory, OrganizationFactory
from webhooks.models import DeliveryStatus, WebhookDelivery, WebhookDeliveryAttempt, WebhookEndpoint

pytestmark = pytest.mark.django_db


def action_url(model: str, pk: int, action: str) -> str:
    app = {"syncjob": "syncjobs", "order": "commerce"}.get(model, "webhooks")
    return reverse(f"admin:{app}_{model}_object_action", args=[pk, action])


@pytest.fixture
def endpoint(org):
    return WebhookEndpoint.objects.create(organization=org, url="https://hooks.example.com/in", events=["*"],
                                          secret="whsec_console_page")


@pytest.fixture
def failed_delivery(org, endpoint):
    delivery = WebhookDelivery.objects.create(endpoint=endpoint, organization=org, event="order.created",
                                              event_id="msg_1", payload={"order": {"id": 7}}, attempts=3,
                                              round_attempts=1, status=DeliveryStatus.FAILED)
    for status in (500, 502, 503):
        WebhookDeliveryAttempt.objects.create(delivery=delivery, response_status=status, response_body='{"a": 1}')
    return delivery


# ---------------------------------------------------------------- actions on the record's page
def test_a_delivery_page_offers_redeliver_to_operators_and_runs_it_for_that_delivery(org, staff, failed_delivery):
    change = reverse("admin:webhooks_webhookdelivery_change", args=[failed_delivery.pk])
    operator = staff(org, "operator")
    assert 'id="object-action-redeliver"' in operator.get(change).content.decode()
    assert 'id="object-action-redeliver"' not in staff(org, "viewer").get(change).content.decode()

    with mock.patch("webhooks.tasks.deliver.apply_async"):
        answer = operator.post(action_url("webhookdelivery", failed_delivery.pk, "redeliver"))
    assert answer.status_code == 302 and answer["Location"] == change
    failed_delivery.refresh_from_db()
    assert failed_delivery.status == DeliveryStatus.PENDING
    assert AuditEvent.objects.filter(action="delivery.redelivered", actor=operator.user).count() == 1


def test_an_action_on_a_record_is_refused_without_the_role_and_not_found_in_another_organization(
    org, staff, failed_delivery
):
    url = action_url("webhookdelivery", failed_delivery.pk, "redeliver")
    assert staff(org, "viewer").post(url).status_code == 403
    assert staff(OrganizationFactory(), "owner").post(url).status_code == 404
    assert staff(org, "operator").get(url).status_code == 405
    assert staff(org, "operator").post(action_url("webhookdelivery", failed_delivery.pk, "nothing")).status_code == 403
    failed_delivery.refresh_from_db()
    assert failed_delivery.status == DeliveryStatus.FAILED


def test_a_failed_job_page_offers_resume_and_a_running_one_does_not(org, staff, shop_integration):
    job = SyncJob.objects.create(integration=shop_integration, organization=org, job_type=JobType.SYNC_ORDERS,
                                 trigger=Trigger.MANUAL, status=JobStatus.FAILED, error_message="boom")
    operator = staff(org, "operator")
    page = operator.get(reverse("admin:syncjobs_syncjob_change", args=[job.pk])).content.decode()
    assert "Resume from its checkpoint" in page
    operator.post(action_url("syncjob", job.pk, "resume"))
    job.refresh_from_db()
    assert job.status == JobStatus.PENDING
    page = operator.get(reverse("admin:syncjobs_syncjob_change", args=[job.pk])).content.decode()
    assert "Resume from its checkpoint" not in page


def test_an_endpoint_page_sends_a_test_rotates_and_recovers_a_window(org, staff, endpoint, failed_delivery):
    admin = staff(org, "admin")
    page = admin.get(reverse("admin:webhooks_webhookendpoint_change", args=[endpoint.pk])).content.decode()
    for name in ("send_test", "rotate_secret", "recover"):
        assert f'id="object-action-{name}"' in page

    rotated = admin.post(action_url("webhookendpoint", endpoint.pk, "rotate_secret"))
    endpoint.refresh_from_db()
    assert rotated.status_code == 200 and endpoint.secret in rotated.content.decode()  # shown once, on this page

    form = admin.post(action_url("webhookendpoint", endpoint.pk, "recover"))
    assert form.status_code == 200 and 'name="since"' in form.content.decode()
    since = (timezone.now() - timedelta(hours=2)).strftime("%Y-%m-%d %H:%M:%S")
    with mock.patch("webhooks.outbound.endpoints.nudge", return_value=True):
        done = admin.post(action_url("webhookendpoint", endpoint.pk, "recover"),
                          {"confirm": "1", "since": since, "action": "recover"}, follow=True)
    assert "Re-sending 1 failed delivery(ies)." in done.content.decode()
    assert AuditEvent.objects.filter(action="endpoint.recovered").count() == 1


def test_an_order_page_fulfils_that_order_with_tracking(org, staff):
    channel = IntegrationFactory(organization=org, provider="sandbox")
    order = Order.objects.create(organization=org, integration=channel, external_id="1", external_number="#1",
                                 status="paid", currency="RON", placed_at=timezone.now())
    order.lines.create(external_id="1-1", sku="SKU-1", quantity=1, unit_price=Decimal("10"), total=Decimal("10"))
    operator = staff(org, "operator")
    url = action_url("order", order.pk, "fulfil_with_tracking")
    form = operator.post(url)
    assert form.status_code == 200 and f'name="tracking_{order.pk}"' in form.content.decode()
    with mock.patch("commerce.services.fulfillment.transaction.on_commit"):
        done = operator.post(url, {"confirm": "1", "carrier": "Fan", f"tracking_{order.pk}": "FC77",
                                   "action": "fulfil_with_tracking", "_selected_action": [order.pk]})
    assert done.status_code == 302 and done["Location"] == reverse("admin:commerce_order_change", args=[order.pk])
    assert order.fulfillments.get().tracking_number == "FC77"


# ---------------------------------------------------------------- what the pages show
def test_money_has_its_currencys_decimals():
    assert money(Decimal("1292.4900"), "EUR") == "1,292.49 EUR"
    assert money(Decimal("15000.0000"), "JPY") == "15,000 JPY"
    assert money(Decimal("12.5"), "KWD") == "12.500 KWD"
    assert money(None, "EUR") == "–"


def test_an_address_reads_as_lines():
    shown = str(address({"name": "Ioana Smith", "company": "", "address1": "193 Karimova Street", "city": "Berlin",
                         "zip": "10115", "province_code": "BE", "country_code": "DE", "phone": "+4079",
                         "note": "ring twice"}))
    assert shown == ('<address class="switchyard-address">Ioana Smith\n193 Karimova Street\n10115 Berlin BE\nDE\n'
                     '+4079\nnote: ring twice</address>')
    assert address({}) == "–"


def test_a_body_is_indented_json_and_a_json_text_inside_it_too():
    shown = str(pretty_body({"headers": {"A": "b"}, "text": '{"id": 7}'}))
    assert '&quot;text&quot;: {\n    &quot;id&quot;: 7' in shown and 'class="switchyard-body"' in shown


def test_an_order_page_shows_money_addresses_and_the_channels_shipping(org, staff):
    channel = IntegrationFactory(organization=org, provider="sandbox")
    order = Order.objects.create(
        organization=org, integration=channel, external_id="9", external_number="#9", status="fulfilled",
        currency="JPY", total=Decimal("15000.0000"), subtotal=Decimal("14000"), placed_at=timezone.now(),
        channel_status={"status": "fulfilled", "fulfillment_status": "fulfilled"},
        shipping_address={"name": "Aiko", "address1": "1-2-3 Ginza", "city": "Tokyo", "country_code": "JP"})
    client = staff(org, "viewer")
    page = client.get(reverse("admin:commerce_order_change", args=[order.pk])).content.decode()
    assert "15,000 JPY" in page and "14,000 JPY" in page and "15000.0000" not in page
    assert "Aiko\n1-2-3 Ginza\nTokyo\nJP" in page and "&quot;address1&quot;" not in page
    listing = client.get(reverse("admin:commerce_order_changelist")).content.decode()
    assert "shipped by the channel (fulfilled)" in listing and "not shipped" not in listing


def test_a_call_log_page_indents_its_request_and_response(org, staff, shop_integration):
    log = IntegrationLogFactory(integration=shop_integration, request={"headers": {"X": "1"}},
                                response={"json": {"orders": [{"id": 1}]}})
    page = staff(org, "viewer").get(reverse("admin:integrations_integrationlog_change", args=[log.pk]))
    assert '&quot;orders&quot;: [\n      {\n        &quot;id&quot;: 1' in page.content.decode()


def test_times_show_seconds_and_the_zone(org, staff, shop_integration):
    at = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    log = IntegrationLogFactory(integration=shop_integration)
    type(log).objects.filter(pk=log.pk).update(created_at=at)
    listing = staff(org, "viewer").get(reverse("admin:integrations_integrationlog_changelist")).content.decode()
    assert "2026-03-04 05:06:07\xa0UTC" in listing


def test_a_deliverys_attempts_are_numbered_as_it_counts_them(org, staff, failed_delivery):
    page = staff(org, "viewer").get(reverse("admin:webhooks_webhookdelivery_change", args=[failed_delivery.pk]))
    text = page.content.decode()
    assert "3 (1 since it was last queued)" in text
    numbers = re.findall(r'<td class="field-number">\s*<p>(\d+)</p>', text)
    assert numbers == ["1", "2", "3"]


def test_schedules_read_as_a_person_says_them(db):
    from django_celery_beat.models import CrontabSchedule, IntervalSchedule

    from console.admin.schedules import crontab_words, interval_words

    def every(n, period="seconds"):
        return interval_words(IntervalSchedule(every=n, period=period))

    assert [every(30), every(60), every(300), every(900), every(3600), every(86400), every(2, "hours")] == [
        "every 30 seconds", "every minute", "every 5 minutes", "every 15 minutes", "hourly", "daily",
        "every 2 hours"]
    assert crontab_words(CrontabSchedule(minute="0", hour="4")) == "daily at 04:00 UTC"


def test_the_schedules_list_shows_hourly_and_daily(db):
    from django.contrib.auth import get_user_model
    from django.test import Client

    root = get_user_model().objects.create_superuser("root", "root@example.com", "pass-word-123")
    client = Client()
    client.force_login(root)
    page = client.get(reverse("admin:django_celery_beat_periodictask_changelist")).content.decode()
    assert '<td class="field-runs">daily</td>' in page and '<td class="field-runs">hourly</td>' in page
