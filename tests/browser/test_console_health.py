"""Health with one meaning, and activation from a test result, in a real browser on any database.

The dashboard's badge for an integration with webhooks stuck retrying after errors is the badge of the
integration list, of the integration's page and the `health` of the API (read over HTTP with an API key); an
inactive integration whose test passes is activated from the button the test result offers.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from integrations.models import Integration
from sandbox.server import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, SandboxServer
from tests.factories import ApiKeyFactory, IntegrationFactory, MembershipFactory
from webhooks.models import IncomingStatus, IncomingWebhook

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


def badge(locator) -> tuple[str | None, str]:
    health = locator.locator(".health").first
    return health.get_attribute("data-health"), health.inner_text().strip()


def test_the_dashboard_badge_of_a_shop_with_stuck_webhooks_is_the_lists_the_pages_and_the_apis(
    transactional_db, live_server, login, browser, output_dir, org
):
    stuck = IntegrationFactory(organization=org, name="Stuck shop", code="stuck-shop")
    IntegrationFactory(organization=org, name="Quiet shop", code="quiet-shop")
    for n in range(6):
        IncomingWebhook.objects.create(integration=stuck, organization=org, body=b"{}", event_type="orders/updated",
                                       external_id=f"stuck-{n}", status=IncomingStatus.PENDING, retry_count=2,
                                       error_message="ProviderUnavailable: the shop answered 503",
                                       next_attempt_at=timezone.now() + timedelta(minutes=15))
    page = login(MembershipFactory(organization=org, role="operator").user)

    row = page.locator("tr.integration-row[data-code='stuck-shop']")
    on_dashboard = badge(row)
    assert on_dashboard == ("degraded", "Degraded")
    assert "6 incoming webhook(s) retrying after errors" in row.inner_text()
    assert badge(page.locator("tr.integration-row[data-code='quiet-shop']")) == ("ok", "OK")
    page.screenshot(path=str(output_dir / "dashboard.png"), full_page=True)

    page.goto(f"{live_server.url}/admin/integrations/integration/")
    listed = page.locator("#result_list tbody tr", has_text="Stuck shop")
    assert badge(listed) == on_dashboard
    page.screenshot(path=str(output_dir / "list.png"), full_page=True)

    listed.locator("a", has_text="Stuck shop").click()
    page.wait_for_selector("#integration-health")
    assert badge(page.locator("#integration-health")) == on_dashboard
    assert "retrying after errors" in page.locator("#integration-health").inner_text()

    _, key = ApiKeyFactory.create_with_raw(organization=org, role="viewer")
    answer = browser.request.get(f"{live_server.url}/api/integrations/{stuck.pk}/",
                                 headers={"Authorization": f"Api-Key {key}"})
    assert answer.status == 200
    health = answer.json()["health"]
    assert (health["state"], health["label"]) == on_dashboard
    assert health["webhooks_retrying"] == 6


def test_an_admin_activates_an_inactive_shop_from_its_passing_test(
    transactional_db, settings, live_server, login, output_dir, org
):
    settings.OUTBOUND_URL_ALLOWLIST = ["127.0.0.1"]
    with SandboxServer(port=0, seed=5, orders=5, products=2) as sandbox:
        shop = IntegrationFactory(
            organization=org, name="New shop", code="new-shop", provider="sandbox", status="inactive",
            api_endpoint=sandbox.url, api_key=DEFAULT_CLIENT_ID, api_secret=DEFAULT_CLIENT_SECRET,
            access_token=sandbox.issue_tokens()["access_token"], config={"rate_limit": None},
        )
        page = login(MembershipFactory(organization=org, role="admin").user)
        page.goto(f"{live_server.url}/admin/integrations/integration/{shop.pk}/change/")
        assert badge(page.locator("#integration-health")) == ("paused", "Paused")

        page.click("#test-connection")
        page.locator("#test-result.ok").wait_for()
        offer = page.locator("#activate-offer")
        assert offer.get_attribute("value") == "Activate (it is inactive)"
        page.screenshot(path=str(output_dir / "offer.png"), full_page=True)
        offer.click()

        page.wait_for_selector("ul.messagelist li.success")
        assert "New shop (new-shop) is active" in page.locator("ul.messagelist").inner_text()
        assert badge(page.locator("#integration-health")) == ("ok", "OK")
        assert page.locator("#activate-offer, #test-and-activate").count() == 0
        page.screenshot(path=str(output_dir / "activated.png"), full_page=True)
    assert Integration.objects.get(pk=shop.pk).status == "active"
