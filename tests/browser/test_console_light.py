"""The operator console in a real browser, on any database: log in, the dashboard, the integration page's
Test button answering inline, a job page showing every field final when the job completes (no reload), and a
viewer without Sync.

The sandbox shop is a real HTTP server in this process; no worker is needed here (see
test_console_flow.py for the whole flow with a Celery worker).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from sandbox.server import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, SandboxServer
from syncjobs.models import JobStatus, JobType, SyncJob, Trigger
from tests.factories import IntegrationFactory, MembershipFactory

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


def test_an_operator_sees_the_healthy_shop_and_tests_it_inline(
    transactional_db, settings, live_server, login, output_dir, org
):
    settings.OUTBOUND_URL_ALLOWLIST = ["127.0.0.1"]
    with SandboxServer(port=0, seed=5, orders=20, products=5) as sandbox:
        IntegrationFactory(
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



def test_a_job_page_shows_every_field_final_after_completion_without_a_reload(
    transactional_db, live_server, login, output_dir, org
):
    shop = IntegrationFactory(organization=org, name="Watched shop", code="watched-shop")
    operator = MembershipFactory(organization=org, role="operator").user
    started = timezone.now() - timedelta(seconds=30)
    job = SyncJob.objects.create(integration=shop, organization=org, job_type=JobType.SYNC_ORDERS,
                                 trigger=Trigger.MANUAL, status=JobStatus.RUNNING, started_at=started,
                                 records_processed=250, records_created=250, pages_processed=1,
                                 cursor={"steps": [{"resource": "orders", "since": None}], "step": 0})
    page = login(operator)
    page.goto(f"{live_server.url}/admin/syncjobs/syncjob/{job.pk}/change/")
    assert page.locator("#cancel-job").is_visible()
    assert page.locator(".field-status .readonly").inner_text() == "Running"
    page.evaluate("window.switchyardNotReloaded = true")

    # The worker finishes: every field the page shows changes, not only the live panel's.
    completed = timezone.now()
    SyncJob.objects.filter(pk=job.pk).update(
        records_processed=500, records_created=480, records_updated=15, records_failed=5, pages_processed=2,
        status=JobStatus.COMPLETED, completed_at=completed, error_message="",
        cursor={"steps": [{"resource": "orders", "since": None}], "step": 1}, updated_at=completed,
    )
    page.wait_for_selector("#sync-progress[data-status='completed']", timeout=60_000)  # polls every 2 s: a bound
    assert page.evaluate("window.switchyardNotReloaded === true")  # the same page, not a reload

    def field(name: str) -> str:
        return page.locator(f".field-{name} .readonly").inner_text().replace("\xa0", " ").strip()

    assert page.locator("[data-field='records_processed']").inner_text() == "500"
    assert page.locator("[data-field='pages_processed']").inner_text() == "2"
    assert page.locator("[data-field='status']").inner_text() == "Completed"
    assert field("status") == "Completed"
    assert field("completed_at") == f"{completed:%Y-%m-%d %H:%M:%S} UTC"
    assert field("records_processed") == "500" and field("pages_processed") == "2"
    assert (field("records_created"), field("records_updated"), field("records_failed")) == ("480", "15", "5")
    assert field("progress") == "500 records, 2 pages: 480 new, 15 changed, 5 failed"
    assert field("current_step") == "done (orders)"
    assert field("duration") not in ("", "-")
    assert "(completed)" in page.locator("#content > h2").inner_text()
    assert not page.locator("#cancel-job").is_visible()
    page.screenshot(path=str(output_dir / "job-completed.png"), full_page=True)


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
