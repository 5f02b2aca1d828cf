"""Each trigger the issue names: what opens its condition, what clears it (an event, or the beat's checks)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.utils import timezone

from commerce.models import Order, OrderStatus, Product, StockLevel
from commerce.services.stock import adjust_stock
from integrations import health
from integrations.events import publish
from notifications import checks, tasks
from notifications.models import Condition, Notice, NoticeKind, NoticeStatus, NotificationRule, TriggerKind
from webhooks.models import WebhookEndpoint
from webhooks.outbound.endpoints import endpoint_disable, endpoint_update

pytestmark = pytest.mark.django_db


def kinds(rule) -> list[tuple[str, str]]:
    return list(Notice.objects.filter(rule=rule).order_by("id").values_list("trigger", "kind"))


@pytest.fixture
def email_rule(org, settings):
    settings.EMAIL_HOST = "smtp.example.com"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

    def make(*triggers: str, **fields) -> NotificationRule:
        return NotificationRule.objects.create(organization=org, name="Mail", triggers=list(triggers),
                                               target="ops@acme.example, cto@acme.example", **fields)
    return make


def test_needs_reauth_and_error_are_separate_conditions_cleared_by_a_connect(org, email_rule):
    rule = email_rule(TriggerKind.INTEGRATION_REAUTH, TriggerKind.INTEGRATION_ERROR)
    from tests.factories import IntegrationFactory

    shop = IntegrationFactory(organization=org, code="shop-ro", name="Shop RO", refresh_token="r1")
    health.integration_refresh_failed(integration=shop, message="invalid_grant", code="REFRESH_FAILED",
                                      needs_reconnect=True)
    assert kinds(rule) == [(TriggerKind.INTEGRATION_REAUTH, NoticeKind.ALERT)]
    health.integration_connected(integration=shop, account_name="Shop RO")
    assert kinds(rule)[1:] == [(TriggerKind.INTEGRATION_REAUTH, NoticeKind.RESOLVED)]

    assert tasks.send_due_notices() == 2  # plain SMTP: Django's email settings
    assert [m.subject for m in mail.outbox] == ["[Switchyard] Shop RO (shop-ro) needs to be connected again",
                                                "[Switchyard] Resolved: Shop RO (shop-ro) needs to be connected again"]
    assert mail.outbox[0].to == ["ops@acme.example", "cto@acme.example"]
    assert "invalid_grant" in mail.outbox[0].body


def test_without_smtp_an_email_rule_fails_with_the_reason(org, email_rule, settings):
    rule = email_rule(TriggerKind.AI_SUGGESTIONS)
    settings.EMAIL_HOST = ""
    publish("ads.suggestions_ready", {"integration": {"id": 1, "code": "ads", "name": "Ads"},
                                      "ad_account": {"id": 12, "name": "Shop RO ads"}, "suggestions": 4}, org)
    tasks.send_due_notices()
    notice = Notice.objects.get(rule=rule)
    assert notice.kind == NoticeKind.INFO and notice.status == NoticeStatus.FAILED
    assert notice.title == "4 AI suggestions ready for Shop RO ads" and "EMAIL_HOST" in notice.error


def test_low_stock_opens_once_and_clears_when_stock_is_back(org, email_rule):
    rule = email_rule(TriggerKind.LOW_STOCK)
    product = Product.objects.create(organization=org, sku="TSHIRT-M")
    level = StockLevel.objects.create(organization=org, product=product, location="main", on_hand=10,
                                      low_stock_threshold=5)
    adjust_stock(stock_level=level, on_hand=4)
    level.refresh_from_db()
    adjust_stock(stock_level=level, on_hand=6)  # above the threshold, but no event says so
    level.refresh_from_db()
    adjust_stock(stock_level=level, on_hand=2)
    assert checks.check_conditions()["cleared"] == 0  # still low
    level.refresh_from_db()
    adjust_stock(stock_level=level, on_hand=20)
    assert checks.check_conditions()["cleared"] == 1
    assert kinds(rule) == [(TriggerKind.LOW_STOCK, NoticeKind.ALERT), (TriggerKind.LOW_STOCK, NoticeKind.ALERT),
                           (TriggerKind.LOW_STOCK, NoticeKind.RESOLVED)]
    assert Notice.objects.filter(rule=rule, status=NoticeStatus.SUPPRESSED).count() == 1


def test_an_order_unfulfilled_too_long_is_stuck_until_fulfilled(org, email_rule):
    rule = email_rule(TriggerKind.ORDER_STUCK, stuck_after_hours=24)
    now = timezone.now()
    old = Order.objects.create(organization=org, external_number="1001", status=OrderStatus.PAID, currency="RON",
                               placed_at=now - timedelta(hours=30))
    Order.objects.create(organization=org, external_number="1002", status=OrderStatus.PAID, currency="RON",
                         placed_at=now - timedelta(hours=2))
    Order.objects.create(organization=org, external_number="1003", status=OrderStatus.FULFILLED, currency="RON",
                         placed_at=now - timedelta(hours=50))
    assert checks.check_conditions() == {"opened": 1, "cleared": 0}
    assert checks.check_conditions() == {"opened": 0, "cleared": 0}  # open: not again
    notice = Notice.objects.get(rule=rule)
    assert notice.title == "Order 1001 unfulfilled for 30 h"
    Order.objects.filter(pk=old.pk).update(status=OrderStatus.FULFILLED)
    assert checks.check_conditions() == {"opened": 0, "cleared": 1}
    assert kinds(rule)[-1] == (TriggerKind.ORDER_STUCK, NoticeKind.RESOLVED)


def test_a_disabled_endpoint_alerts_and_clears_when_switched_back_on(org, email_rule):
    rule = email_rule(TriggerKind.ENDPOINT_DISABLED)
    endpoint = WebhookEndpoint.objects.create(organization=org, url="https://erp.example.com/hooks", events=["*"],
                                              secret="whsec_dGVzdA==")
    endpoint_disable(endpoint=endpoint, reason="The endpoint answered 410 Gone.", notify=True)
    notice = Notice.objects.get(rule=rule)
    assert notice.title == "Webhook endpoint https://erp.example.com/hooks was disabled"
    assert checks.check_conditions()["cleared"] == 0
    endpoint_update(endpoint=endpoint, data={"is_active": True})
    assert checks.check_conditions()["cleared"] == 1


def test_incoming_webhooks_failing_clear_on_the_next_delivered(org, email_rule):
    rule = email_rule(TriggerKind.WEBHOOK_FAILED)
    shop = {"id": 7, "code": "shop-ro", "provider": "sandbox", "name": "Shop RO"}
    for n in range(3):
        publish("webhook.failed", {"integration": shop, "incoming_webhook": {"id": n, "event_type": "orders/create",
                                                                            "error": "bad line"}}, org)
    publish("webhook.delivered", {"integration": shop, "incoming_webhook": {"id": 9, "event_type": "orders/create",
                                                                           "external_id": "x", "result": {}}}, org)
    assert [k for _, k in kinds(rule)] == ["alert", "alert", "alert", "resolved"]
    assert list(Notice.objects.filter(rule=rule).order_by("id").values_list("status", flat=True)) == [
        "pending", "suppressed", "suppressed", "pending"]
    assert Condition.objects.get(rule=rule).occurrences == 3


def test_another_organizations_events_reach_none_of_this_ones_rules(org, other_org, email_rule):
    email_rule(TriggerKind.WEBHOOK_FAILED)
    publish("webhook.failed", {"integration": {"id": 1, "code": "x", "name": "X"},
                               "incoming_webhook": {"id": 1, "event_type": "t", "error": "e"}}, other_org)
    assert not Notice.objects.exists()


def test_a_rolled_back_change_leaves_no_notice(org, email_rule):
    from django.db import transaction

    email_rule(TriggerKind.WEBHOOK_FAILED)
    with pytest.raises(RuntimeError), transaction.atomic():
        publish("webhook.failed", {"integration": {"id": 1, "code": "x", "name": "X"},
                                   "incoming_webhook": {"id": 1, "event_type": "t", "error": "e"}}, org)
        raise RuntimeError("the change failed")
    assert not Notice.objects.exists() and not Condition.objects.exists()


def test_stuck_orders_placed_at_is_compared_in_utc(org, email_rule):
    email_rule(TriggerKind.ORDER_STUCK, stuck_after_hours=1)
    Order.objects.create(organization=org, external_number="7", status=OrderStatus.PARTIALLY_FULFILLED,
                         currency="EUR", placed_at=datetime(2020, 1, 1, tzinfo=UTC))
    assert checks.check_conditions()["opened"] == 1
