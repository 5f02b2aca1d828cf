"""The operator console in a real browser, on any database: log in, the dashboard, the integration page's
Test button answering inline, a job page refreshing its progress by itself, and a viewer without Sync.

The sandbox shop is a real HTTP server in this process; no worker is needed here (see
test_console_flow.py for the whole flow with a Celery worker).
"""

from __future__ import annotations

import pytest
from django.utils import timezone

from sandbox.server import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, SandboxServer
from syncjobs.models import JobStatus, JobType, SyncJob, Trigger
from tests.factories import IntegrationFactory, MembershipFactory

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


def test_an_operator_sees_the_healthy_shop_tests_it_inline_and_watches_a_job(
    transactional_db, settings, live_server, login, output_dir, org
):
    settings.OUTBOUND_URL_ALLOWLIST = ["127.0.0.1"]
    with SandboxServer(port=0, seed=5, orders=20, products=5) as sandbox:
        shop = IntegrationFactory(
            organization=org, name="Sandbox shop", code="sandbox-shop", provider="sandbox",
            api_endpoint=sandbox.url, api_key=DEFAULT_CLIENT_ID, api_secret=DEFAULT_CLIENT_SECRET,
            access_token=sandbox.issue_tokens()["access_token"], config={"rate_limit": None},
        )
        operator = MembershipFactory(organization=org, role="operator").user
        page = login(operator)

        row = page.locator("tr.integration-row[data-code='sandbox-shop']")
        assert row.get_attribute("data-health") == "ok"
        assert row.locator(".health").inner_text().strip() == "OK"
        assert page.locator("svg.switchyard-chart").count() == 3
        page.screenshot(path=str(output_dir / "dashboard.png"), full_page=True)

        row.locator("a", has_text="Sandbox shop").click()
        page.wait_for_selector("#integration-console")
        assert page.locator("#sync-now").is_visible()
        page.click("#test-connection")
        result = page.locator("#test-result.ok")
        result.wait_for()
        assert "Connection OK" in result.inner_text()
        assert DEFAULT_CLIENT_SECRET not in page.content()
        page.screenshot(path=str(output_dir / "integration.png"), full_page=True)

    job = SyncJob.objects.create(integration=shop, organization=org, job_type=JobType.SYNC_ORDERS,
                                 trigger=Trigger.MANUAL, status=JobStatus.RUNNING, started_at=timezone.now(),
                                 records_processed=250, pages_processed=1)
    page.goto(f"{live_server.url}/admin/syncjobs/syncjob/{job.pk}/change/")
    assert page.locator("#cancel-job").is_visible()
    SyncJob.objects.filter(pk=job.pk).update(records_processed=500, pages_processed=2, status=JobStatus.COMPLETED,
                                             completed_at=timezone.now())
    page.wait_for_selector("#sync-progress[data-status='completed']")  # no reload: the page polled
    assert page.locator("[data-field='records_processed']").inner_text() == "500"
    assert page.locator("[data-field='pages_processed']").inner_text() == "2"
    assert not page.locator("#cancel-job").is_visible()


def test_a_viewer_has_no_sync_button(transactional_db, live_server, login, output_dir, org):
    shop = IntegrationFactory(organization=org, name="Viewed shop", code="viewed-shop")
    viewer = MembershipFactory(organization=org, role="viewer").user
    page = login(viewer)
    assert page.locator("tr.integration-row[data-code='viewed-shop']").count() == 1
    page.goto(f"{live_server.url}/admin/integrations/integration/{shop.pk}/change/")
    page.wait_for_selector("#integration-console")
    assert page.locator("#sync-now").count() == 0 and page.locator("#test-connection").count() == 0
    assert "need the operator role" in page.locator("#integration-console").inner_text()
    page.screenshot(path=str(output_dir / "viewer-integration.png"), full_page=True)
