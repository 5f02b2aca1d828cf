"""`manage.py retry_webhooks`: re-queue by status, integration and date, with a progress bar."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from tests.factories import IntegrationFactory
from tests.webhooks.inbound_support import (
    SECRET,
    post,
    raw_order,
    receive_url,
    shopify_delivery,
)
from webhooks.models import IncomingWebhook

pytestmark = pytest.mark.django_db


def _failed(integration, *, days_ago: int = 0) -> IncomingWebhook:
    body, headers = shopify_delivery(raw_order())
    pk = post(Client(), receive_url(integration.route_key), body, headers).json()["id"]
    IncomingWebhook.objects.filter(pk=pk).update(status="failed", retry_count=5,
                                                 received_at=timezone.now() - timedelta(days=days_ago))
    return IncomingWebhook.objects.get(pk=pk)


def _run(*args):
    out, err = StringIO(), StringIO()
    call_command("retry_webhooks", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_retries_failed_webhooks_of_one_integration_since_a_date(shop, nudges, django_capture_on_commit_callbacks):
    other = IntegrationFactory(organization=shop.organization, webhook_secret=SECRET)
    recent, old, elsewhere = _failed(shop), _failed(shop, days_ago=10), _failed(other)
    nudges.clear()
    since = (timezone.now() - timedelta(days=2)).date().isoformat()
    with django_capture_on_commit_callbacks(execute=True):
        out, err = _run("--status", "failed", "--integration", shop.code, "--since", since)
    assert "Re-queued 1 failed webhook(s)." in out
    assert "100%" in err  # the progress bar
    assert nudges == [recent.pk]
    assert IncomingWebhook.objects.get(pk=recent.pk).status == "pending"
    assert {IncomingWebhook.objects.get(pk=w.pk).status for w in (old, elsewhere)} == {"failed"}


def test_dry_run_changes_nothing_and_a_second_run_finds_nothing(shop, nudges):
    webhook = _failed(shop)
    out, _ = _run("--dry-run")
    assert "Would re-queue 1 failed webhook(s)." in out
    assert IncomingWebhook.objects.get(pk=webhook.pk).status == "failed"
    _run()
    out, _ = _run()
    assert "Re-queued 0 failed webhook(s)." in out


def test_bad_arguments_are_refused(shop):
    with pytest.raises(CommandError, match="No integration"):
        _run("--integration", "nope")
    with pytest.raises(CommandError, match="not a date"):
        _run("--since", "last tuesday")
    with pytest.raises(CommandError):
        _run("--status", "pending")


def test_webhooks_waiting_in_backoff_can_be_counted_and_queued_now(shop, nudges, django_capture_on_commit_callbacks):
    waiting = _failed(shop)
    IncomingWebhook.objects.filter(pk=waiting.pk).update(
        status="pending", retry_count=3, error_message="ProviderUnavailable: the shop answered 503",
        next_attempt_at=timezone.now() + timedelta(minutes=20))
    fresh = _failed(shop)
    IncomingWebhook.objects.filter(pk=fresh.pk).update(status="pending", retry_count=0, error_message="")
    nudges.clear()

    out, _ = _run("--status", "retrying", "--dry-run")
    assert "Would re-queue 1 retrying webhook(s)." in out
    with django_capture_on_commit_callbacks(execute=True):
        out, _ = _run("--status", "retrying")
    assert "Re-queued 1 retrying webhook(s)." in out
    assert nudges == [waiting.pk]
    row = IncomingWebhook.objects.get(pk=waiting.pk)
    assert (row.status, row.retry_count, row.error_message) == ("pending", 0, "")
    assert row.next_attempt_at <= timezone.now()


def test_a_run_is_in_the_audit_trail_once_per_organization_with_its_count(shop, nudges):
    from accounts.models import AuditEvent

    _failed(shop), _failed(shop)
    _run("--dry-run")
    assert not AuditEvent.objects.exists()  # a dry run changes nothing, so records nothing
    _run("--integration", shop.code)
    event = AuditEvent.objects.get()
    assert (event.action, event.organization_id, event.via) == ("webhook.retried", shop.organization_id, "command")
    assert event.details == {"count": 2, "status": "failed", "integration": shop.code, "since": None}
    assert event.actor_label.startswith("command retry_webhooks (")
