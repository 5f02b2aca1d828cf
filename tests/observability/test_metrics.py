"""GET /metrics: refused without the token or an allowed address; parses; holds the series; a fixed query cost."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from events.models import InboundEvent
from events.sources import event_source_create
from integrations.models import IntegrationLog
from syncjobs.models import SyncJob
from tests.factories import IntegrationFactory, OrganizationFactory
from webhooks.models import IncomingWebhook, WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db

TOKEN = "metrics-token-0123456789"
QUERIES_PER_SCRAPE = 7  # one aggregate per table: incoming, events, deliveries, endpoints, jobs, calls, integrations


@pytest.fixture(autouse=True)
def protected(settings):
    settings.METRICS_BEARER_TOKEN = TOKEN
    settings.METRICS_ALLOWED_IPS = ["10.0.0.0/8"]


def scrape(**headers):
    return Client().get("/metrics", **headers)


def samples(answer) -> dict[tuple[str, tuple], float]:
    """{(sample name, sorted labels): value} of a scrape, read with Prometheus' own parser."""
    assert answer.status_code == 200, answer.content
    assert answer["Content-Type"].startswith("text/plain")
    found = {}
    for family in text_string_to_metric_families(answer.content.decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def authorized():
    return scrape(HTTP_AUTHORIZATION=f"Bearer {TOKEN}")


def populate(scale: int = 1) -> None:
    """Some of everything /metrics reads, `scale` organizations' worth."""
    now = timezone.now()
    for n in range(scale):
        org = OrganizationFactory()
        shop = IntegrationFactory(organization=org, provider="sandbox", expires_at=now + timedelta(hours=2),
                                  access_token="at")
        IntegrationFactory(organization=org, provider="shopify", status="error", consecutive_failures=3)
        for status in ("pending", "processing", "completed", "failed"):
            IncomingWebhook.objects.create(integration=shop, organization=org, body=b"{}", status=status,
                                           external_id=f"{status}-{n}", next_attempt_at=now - timedelta(minutes=2))
        source, _ = event_source_create(organization=org, name="users")
        InboundEvent.objects.create(source=source, organization=org, event_id=f"e{n}", event_type="user.deleted",
                                    body=b"{}", next_attempt_at=now - timedelta(seconds=30))
        endpoint = WebhookEndpoint.objects.create(organization=org, url="https://hooks.example.com/x", events=["*"],
                                                  secret="whsec_x", failing_since=now - timedelta(hours=1))
        for status in ("pending", "retrying", "delivered", "failed"):
            WebhookDelivery.objects.create(endpoint=endpoint, organization=org, event="order.created", event_id="m",
                                           payload={}, status=status, next_attempt_at=now - timedelta(seconds=90))
        SyncJob.objects.create(integration=shop, organization=org, job_type="sync_orders", trigger="api",
                               status="running")
        SyncJob.objects.create(integration=shop, organization=org, job_type="sync_products", trigger="api",
                               status="completed", completed_at=now - timedelta(seconds=10), records_processed=600)
        SyncJob.objects.create(integration=shop, organization=org, job_type="sync_products", trigger="api",
                               status="failed", completed_at=now - timedelta(seconds=10))
        for code, ms in ((200, 80), (200, 400), (503, 3000), (None, None)):
            IntegrationLog.objects.create(integration=shop, organization=org, action="list_orders", status_code=code,
                                          duration_ms=ms)


@pytest.mark.parametrize("headers", [{}, {"HTTP_AUTHORIZATION": "Bearer wrong"}, {"HTTP_AUTHORIZATION": TOKEN},
                                     {"HTTP_AUTHORIZATION": f"Basic {TOKEN}"}, {"REMOTE_ADDR": "192.168.1.5"}])
def test_an_unauthenticated_scrape_is_refused(headers):
    answer = scrape(**headers)
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "NOT_AUTHENTICATED" and answer["WWW-Authenticate"] == "Bearer"


def test_with_neither_setting_every_scrape_is_refused(settings):
    settings.METRICS_BEARER_TOKEN, settings.METRICS_ALLOWED_IPS = "", []
    assert scrape(HTTP_AUTHORIZATION="Bearer ").status_code == 401
    assert scrape(REMOTE_ADDR="127.0.0.1").status_code == 401


def test_the_token_or_an_allowed_address_lets_a_scrape_in():
    assert authorized().status_code == 200
    assert scrape(REMOTE_ADDR="10.20.30.40").status_code == 200


def test_the_scrape_parses_and_holds_the_named_series():
    populate()
    got = samples(authorized())

    def value(name, **labels):
        return got[(f"switchyard_{name}", tuple(sorted(labels.items())))]

    assert value("incoming_webhooks_backlog", status="pending") == 1
    assert value("incoming_webhooks_backlog", status="processing") == 1
    assert value("incoming_webhooks_window", status="failed") == 1
    assert 100 <= value("incoming_webhook_oldest_due_seconds") < 300
    assert value("inbound_events_backlog", status="pending") == 1
    assert 20 <= value("inbound_event_oldest_due_seconds") < 200
    assert value("webhook_deliveries_backlog", status="retrying") == 1
    assert value("webhook_deliveries_window", status="delivered") == 1
    assert 80 <= value("webhook_delivery_oldest_due_seconds") < 300
    assert value("webhook_endpoints", state="failing") == 1
    assert 3500 <= value("webhook_endpoint_longest_failure_seconds") < 3700
    assert value("sync_jobs_active", job_type="sync_orders", status="running") == 1
    assert value("sync_jobs_finished_window", job_type="sync_products", status="failed") == 1
    assert value("sync_records_per_second", job_type="sync_products") == 600 / 300
    assert value("provider_calls_window", provider="sandbox", status_class="2xx") == 2
    assert value("provider_calls_window", provider="sandbox", status_class="5xx") == 1
    assert value("provider_calls_window", provider="sandbox", status_class="error") == 1
    assert value("provider_calls_window_by_latency", provider="sandbox", le="0.1") == 1
    assert value("provider_calls_window_by_latency", provider="sandbox", le="0.5") == 2
    assert value("provider_calls_window_by_latency", provider="sandbox", le="+Inf") == 3
    assert value("provider_call_seconds_window", provider="sandbox") == pytest.approx(3.48)
    assert value("integrations", provider="shopify", status="error") == 1
    assert 7000 <= value("oauth_token_expiry_seconds", provider="sandbox") <= 7200
    assert value("oauth_tokens_expired", provider="sandbox") == 0
    assert not any(name.startswith("switchyard_integration_up") for name, _ in got)  # no per-integration labels


def test_a_scrape_costs_the_same_few_queries_however_much_data(settings):
    populate(1)
    with CaptureQueriesContext(connection) as small:
        authorized()
    populate(4)
    with CaptureQueriesContext(connection) as large:
        authorized()
    assert len(small) == len(large) == QUERIES_PER_SCRAPE, [q["sql"][:120] for q in large.captured_queries]


def test_per_integration_series_only_while_the_organizations_are_few(settings, django_assert_max_num_queries):
    populate(2)
    settings.METRICS_PER_INTEGRATION_MAX_ORGANIZATIONS = 2
    with django_assert_max_num_queries(QUERIES_PER_SCRAPE + 3):
        got = samples(authorized())
    ups = [labels for name, labels in got if name == "switchyard_integration_up"]
    assert len(ups) == 4 and all(dict(labels).keys() == {"organization", "integration"} for labels in ups)
    assert any(name == "switchyard_webhook_endpoint_failing_seconds" for name, _ in got)

    settings.METRICS_PER_INTEGRATION_MAX_ORGANIZATIONS = 1  # three organizations now: too many
    OrganizationFactory()
    got = samples(authorized())
    assert not any(name == "switchyard_integration_up" for name, _ in got)


@pytest.mark.redis
def test_celery_queue_lengths_come_from_redis():
    got = samples(authorized())
    assert got[("switchyard_broker_up", ())] == 1
    assert ("switchyard_celery_queue_length", (("queue", "celery"),)) in got
