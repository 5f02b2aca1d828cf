"""Notifications tests: a Slack integration to tell, a fake shop whose syncs fail or pass (tests/syncjobs/fakes)."""

from __future__ import annotations

import pytest

from connectors.sessions import close_sessions
from notifications.models import NotificationRule, TriggerKind
from tests.connectors.support import public_dns, sleeps  # noqa: F401 - fixtures
from tests.factories import IntegrationFactory
from tests.syncjobs.conftest import enqueued, shop, writer  # noqa: F401 - fixtures

CHANNEL = "C0123ABCD"
POST_MESSAGE = "https://slack.com/api/chat.postMessage"


@pytest.fixture
def slack(org, public_dns, sleeps):  # noqa: F811
    integration = IntegrationFactory(organization=org, provider="slack", type="api", code="slack-ops",
                                     name="Ops Slack", access_token="xoxb-test-token-0001",
                                     config={"team_id": "T9TK3CUKW", "team_name": "Acme"})
    yield integration
    close_sessions()


@pytest.fixture
def channel(org, shop):  # noqa: F811
    return IntegrationFactory(organization=org, provider="fakeshop", code="fake-shop", name="Fake Shop",
                              sync_interval_minutes=60)


@pytest.fixture
def rule(org, slack):
    return NotificationRule.objects.create(organization=org, name="Ops alerts", integration=slack, target=CHANNEL,
                                           triggers=[TriggerKind.SYNC_FAILED], timezone="UTC")
