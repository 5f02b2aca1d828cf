"""End to end: every order of a seeded sandbox shop arrives exactly once through the connector.

A real HTTP server (the sandbox), a real OAuth code exchange, the real provider
client: pagination through Link/page_info, 429s honoured through Retry-After,
and an access token that expires mid-pull and is refreshed.
"""

from collections import Counter
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from connectors import registry
from integrations.models import IntegrationLog
from sandbox.data import ORDER_ID_BASE
from sandbox.server import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, SandboxServer
from tests.factories import IntegrationFactory

ORDERS = 1200


def connect(sandbox, organization):
    """The OAuth dance against the sandbox: authorize (it always consents), then trade the code for tokens."""
    answer = requests.get(sandbox.url + "/admin/oauth/authorize", allow_redirects=False, timeout=5, params={
        "client_id": DEFAULT_CLIENT_ID, "redirect_uri": "http://127.0.0.1:1/oauth/callback", "state": "e2e",
        "scope": "read_orders"})
    code = parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]
    integration = IntegrationFactory(organization=organization, provider="sandbox", api_endpoint=sandbox.url,
                                     api_key=DEFAULT_CLIENT_ID, api_secret=DEFAULT_CLIENT_SECRET)
    tokens = registry.connector_for(integration).exchange_code(code)
    integration.access_token, integration.refresh_token = tokens.access_token, tokens.refresh_token
    integration.expires_at, integration.scope = tokens.expires_at, list(tokens.scope)
    integration.save()
    return integration


@pytest.mark.e2e
@pytest.mark.django_db
def test_every_order_arrives_exactly_once_through_rate_limits_and_a_refresh(settings, org):
    settings.OUTBOUND_URL_ALLOWLIST = ["127.0.0.1"]
    # A bucket of 2 leaking 1/s: the third call within a second is refused with Retry-After, even when a busy
    # machine makes each call slow.
    with SandboxServer(port=0, seed=11, orders=ORDERS, products=60, rate_limit=2, leak_rate=1.0) as sandbox:
        integration = connect(sandbox, org)
        first_token = integration.access_token
        connector = registry.connector_for(integration)

        seen: Counter[int] = Counter()
        cursors = []
        for number, page in enumerate(connector.iter_orders(), start=1):
            seen.update(order["id"] for order in page.items)
            cursors.append(page.next_cursor)
            if number == 2:
                sandbox.expire_tokens()  # the token dies mid-pull; the client must refresh and go on
        stats = sandbox.stats()

    assert len(seen) == ORDERS and set(seen) == set(range(ORDER_ID_BASE, ORDER_ID_BASE + ORDERS))
    assert max(seen.values()) == 1
    assert len(cursors) == 5 and cursors[-1] is None and all(cursors[:-1])
    assert stats["throttled"] >= 1, stats
    assert stats["refresh_grants"] == 1 and stats["code_grants"] == 1 and stats["unauthorized"] == 1

    integration.refresh_from_db()
    assert integration.access_token != first_token
    logs = IntegrationLog.objects.filter(integration=integration)
    assert logs.filter(status_code=429).count() == stats["throttled"]  # each 429 logged, then waited out
    assert logs.filter(action="refresh_token", status_code=200).count() == 1
    assert logs.filter(action="list_orders", status_code=200).count() == 5


@pytest.mark.e2e
@pytest.mark.django_db
def test_a_pull_resumes_from_its_checkpoint_and_an_incremental_pull_gets_the_changes(settings, org):
    settings.OUTBOUND_URL_ALLOWLIST = ["127.0.0.1"]
    with SandboxServer(port=0, seed=12, orders=600, products=20, rate_limit=1000, leak_rate=1000) as sandbox:
        integration = IntegrationFactory(organization=org, provider="sandbox", api_endpoint=sandbox.url,
                                         api_key=DEFAULT_CLIENT_ID, api_secret=DEFAULT_CLIENT_SECRET,
                                         access_token=sandbox.issue_tokens()["access_token"])
        connector = registry.connector_for(integration)
        first = next(connector.iter_orders())  # then the job "crashes"; its checkpoint is the page's cursor
        rest = [o for page in connector.iter_orders(cursor=first.next_cursor) for o in page.items]
        pulled = first.items + rest
        assert sorted(o["id"] for o in pulled) == list(range(ORDER_ID_BASE, ORDER_ID_BASE + 600))

        high_water = max(connector.normalize_order(o)["updated_at"] for o in pulled)
        touched = set(sandbox.touch_orders(4))
        changed = {o["id"] for page in connector.iter_orders(since=high_water) for o in page.items}
    # The touched orders, plus any order updated exactly at the high-water second (updated_at_min is inclusive).
    assert touched <= changed
    at_mark = {o["id"] for o in pulled if connector.normalize_order(o)["updated_at"] == high_water}
    assert changed <= touched | at_mark


@pytest.mark.e2e
@pytest.mark.django_db
def test_the_call_log_of_an_order_pull_holds_no_customer_email_or_address(settings, org):
    settings.OUTBOUND_URL_ALLOWLIST = ["127.0.0.1"]
    settings.INTEGRATION_LOG_BODY_LIMIT = 200_000  # keep whole pages, so nothing hides behind truncation
    with SandboxServer(port=0, seed=3, orders=50, products=10) as sandbox:
        integration = connect(sandbox, org)
        page = next(iter(registry.connector_for(integration).iter_orders()))
    emails = {order["email"] for order in page.items if order.get("email")}
    streets = {order["shipping_address"]["address1"] for order in page.items if order.get("shipping_address")}
    assert emails and streets  # the shop does send personal data
    logged = " ".join(str(row) for row in IntegrationLog.objects.filter(action="list_orders").values())
    assert "list_orders" in logged and str(page.items[0]["id"]) in logged  # the page itself was logged
    assert not [e for e in emails if e in logged]
    assert not [s for s in streets if s in logged]
