"""The Discord connector against recorded answers (tests/fixtures/discord/): embeds through a channel webhook,
429 `retry_after` honoured by the one HTTP client, the webhook's token kept out of the call log."""

from __future__ import annotations

import pytest
import responses

from config.errors import ValidationError
from connectors.capabilities import NoticeMessage
from connectors.sessions import close_sessions
from integrations.models import IntegrationLog
from tests.connectors.support import Recorded, sent_json, sent_query
from tests.factories import IntegrationFactory

recorded = Recorded("discord")
TOKEN = "Xy9aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789abcdefGHIJKLmnopQRSTuvwx"
WEBHOOK = f"https://discord.com/api/webhooks/1186730240300757012/{TOKEN}"
MESSAGE = NoticeMessage(title="Low stock: TSHIRT-M at main", text="3 available, threshold 5.", state="alert",
                        facts=(("SKU", "TSHIRT-M"), ("Location", "main")),
                        link="https://switchyard.example/admin/commerce/product/5/change/")


@pytest.fixture
def integration(db, public_dns, sleeps):
    yield IntegrationFactory(provider="discord", type="api", code="discord-ops", credentials={"webhook_url": WEBHOOK})
    close_sessions()


@responses.activate
def test_execute_webhook__ok_sends_one_embed_and_no_mentions(connector):
    recorded.replay("POST", WEBHOOK, "execute_webhook__ok")
    assert connector.send_notice(MESSAGE, target="") == "1186730389001420860"
    assert sent_json(responses.calls[0]) == {
        "username": "Switchyard",
        "embeds": [{"title": "Low stock: TSHIRT-M at main", "color": 0xD83C3E,
                    "description": "3 available, threshold 5.",
                    "fields": [{"name": "SKU", "value": "TSHIRT-M", "inline": True},
                               {"name": "Location", "value": "main", "inline": True}],
                    "url": "https://switchyard.example/admin/commerce/product/5/change/"}],
        "allowed_mentions": {"parse": []},
    }
    assert sent_query(responses.calls[0]) == {"wait": "true"}
    assert "Authorization" not in responses.calls[0].request.headers  # the URL is the credential


@responses.activate
def test_execute_webhook__rate_limited_waits_the_bodys_retry_after(connector, sleeps):
    recorded.replay("POST", WEBHOOK, "execute_webhook__rate_limited")
    recorded.replay("POST", WEBHOOK, "execute_webhook__ok")
    connector.send_notice(MESSAGE, target="")
    assert sleeps == [1.337]  # the body's precise value, not the header's rounded 2
    assert len(responses.calls) == 2
    logs = list(IntegrationLog.objects.filter(integration=connector.integration).order_by("id"))
    assert [log.status_code for log in logs] == [429, 200]
    assert all(TOKEN not in log.endpoint and TOKEN not in str(log.request) for log in logs)


@responses.activate
def test_a_thread_target_is_the_thread_id(connector):
    recorded.replay("POST", WEBHOOK, "execute_webhook__ok")
    connector.send_notice(MESSAGE, target="1186731111111111111")
    assert sent_query(responses.calls[0]) == {"wait": "true", "thread_id": "1186731111111111111"}


@responses.activate
def test_a_bot_posts_to_the_target_channel(integration, connector):
    integration.credentials, integration.api_key = {}, "MTE4NjczMDI0MDMwMDc1NzAxMg.bot-token"
    recorded.replay("POST", "https://discord.com/api/v10/channels/1186729878319759390/messages", "execute_webhook__ok")
    connector.send_notice(MESSAGE, target="1186729878319759390")
    assert responses.calls[0].request.headers["Authorization"] == "Bot MTE4NjczMDI0MDMwMDc1NzAxMg.bot-token"


def test_a_webhook_url_elsewhere_is_refused(integration, connector):
    integration.credentials = {"webhook_url": "https://evil.example/api/webhooks/1/x"}
    with pytest.raises(ValidationError):
        connector.send_notice(MESSAGE, target="")


@responses.activate
def test_a_digest_is_one_message_of_embeds(connector):
    recorded.replay("POST", WEBHOOK, "execute_webhook__ok")
    items = tuple(NoticeMessage(title=f"Item {n}") for n in range(12))
    connector.send_notice(NoticeMessage(title="Switchyard digest: 12 notices", state="digest", items=items), target="")
    body = sent_json(responses.calls[0])
    assert len(body["embeds"]) == 9 and body["content"] == "Switchyard digest: 12 notices (…and 3 more in the console)"
