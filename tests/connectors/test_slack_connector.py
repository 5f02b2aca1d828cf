"""The Slack connector against recorded answers (tests/fixtures/slack/), and its signed `/switchyard` command.

The slash command goes through the real route; Slack's side (users.info) is answered by `responses`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from urllib.parse import urlencode

import pytest
import responses
import time_machine

from connectors.capabilities import NoticeMessage
from connectors.errors import AuthExpired, ProviderError
from connectors.sessions import close_sessions
from syncjobs.models import SyncJob
from tests.connectors.support import Recorded, sent_json
from tests.factories import IntegrationFactory, MembershipFactory, UserFactory
from tests.syncjobs.conftest import enqueued, shop  # noqa: F401 - fixtures

recorded = Recorded("slack")
SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TEAM = "T9TK3CUKW"
USERS_INFO = "https://slack.com/api/users.info"
EMAIL = "spengler@ghostbusters.example.com"


@pytest.fixture
def integration(org, public_dns, sleeps, settings):
    settings.PROVIDER_SETTINGS = {"slack": {"SIGNING_SECRET": SECRET, "CLIENT_ID": "cid", "CLIENT_SECRET": "csec"}}
    yield IntegrationFactory(organization=org, provider="slack", type="api", code="slack",
                             access_token="xoxb-test-token-0001", config={"team_id": TEAM, "team_name": "Acme"})
    close_sessions()


def signed(form: dict[str, str], *, at: int | None = None, secret: str = SECRET) -> tuple[bytes, dict[str, str]]:
    body = urlencode(form).encode()
    timestamp = str(at if at is not None else int(time.time()))
    digest = hmac.new(secret.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    return body, {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": f"v0={digest}"}


def command(client, text: str, *, at: int | None = None, tamper: bool = False, secret: str = SECRET):
    form = {"token": "legacy", "team_id": TEAM, "team_domain": "acme", "channel_id": "C2147483705",
            "user_id": "W012A3CDE", "user_name": "spengler", "command": "/switchyard", "text": text,
            "response_url": "https://hooks.slack.com/commands/1234/5678", "trigger_id": "13345224609.738474920.8088"}
    body, headers = signed(form, at=at, secret=secret)
    if tamper:
        body = body.replace(b"health", b"sync+shop-ro")
    return client.post("/api/slack/commands/", data=body, content_type="application/x-www-form-urlencoded",
                       headers=headers)


@pytest.fixture
def member(org):
    def make(role: str):
        return MembershipFactory(organization=org, role=role, user=UserFactory(email=EMAIL))
    return make


@pytest.fixture
def shop_ro(org, shop):  # noqa: F811
    return IntegrationFactory(organization=org, provider="fakeshop", code="shop-ro", name="Shop RO")


# ---------------------------------------------------------------- the command's signature


@responses.activate
def test_a_signed_health_command_answers_the_members_organization(client, integration, member, shop_ro):
    member("viewer")
    recorded.replay("GET", USERS_INFO, "users_info__ok")
    answer = command(client, "health")
    assert answer.status_code == 200
    body = answer.json()
    assert body["response_type"] == "ephemeral"
    assert "shop-ro: " in body["text"] and "slack: " in body["text"]
    assert responses.calls[0].request.params == {"user": "W012A3CDE"}


@responses.activate
@pytest.mark.parametrize("case", ["tampered", "stale", "future", "wrong secret", "unsigned"])
def test_a_forged_or_replayed_command_is_refused_before_anything_is_read(client, integration, member, case):
    member("owner")
    if case == "unsigned":
        answer = client.post("/api/slack/commands/", data=b"team_id=T9TK3CUKW&text=health",
                             content_type="application/x-www-form-urlencoded")
    else:
        # A stopped clock, late in its second: on a running one a timestamp 301 s ahead of int(time.time()) is
        # less than 300 s ahead of the time the request is checked at whenever that crosses the next second.
        with time_machine.travel(int(time.time()) + 0.999, tick=False):
            at = {"stale": int(time.time()) - 301, "future": int(time.time()) + 301}.get(case)
            answer = command(client, "health", at=at, tamper=case == "tampered",
                             secret="not-the-secret" if case == "wrong secret" else SECRET)
    assert answer.status_code == 401 and answer.json()["error"]["code"] == "INVALID_SIGNATURE"
    assert len(responses.calls) == 0  # not even users.info


@responses.activate
def test_a_command_within_the_window_passes(client, integration, member):
    member("viewer")
    recorded.replay("GET", USERS_INFO, "users_info__ok")
    with time_machine.travel(int(time.time()), tick=False):
        assert command(client, "help", at=int(time.time()) - 300).status_code == 200  # the window's edge is in


# ---------------------------------------------------------------- who may sync


@responses.activate
def test_a_viewer_cannot_start_a_sync(client, integration, member, shop_ro):
    member("viewer")
    recorded.replay("GET", USERS_INFO, "users_info__ok")
    answer = command(client, "sync shop-ro").json()
    assert answer["text"] == "Starting a sync needs the operator role or above; yours is viewer."
    assert not SyncJob.objects.exists()


@responses.activate
def test_an_operator_starts_a_sync(client, integration, member, shop_ro, enqueued):  # noqa: F811
    member("operator")
    recorded.replay("GET", USERS_INFO, "users_info__ok")
    answer = command(client, "sync shop-ro").json()
    job = SyncJob.objects.get()
    assert answer["text"] == f"Sync of shop-ro started (job {job.pk})."
    assert job.integration_id == shop_ro.pk and job.trigger == "command"


@responses.activate
def test_someone_who_is_no_member_gets_nothing(client, integration, other_org, shop_ro):
    MembershipFactory(organization=other_org, role="owner", user=UserFactory(email=EMAIL))
    recorded.replay("GET", USERS_INFO, "users_info__ok")
    answer = command(client, "sync shop-ro").json()
    assert answer["text"].startswith("You are not a member of") and not SyncJob.objects.exists()


@responses.activate
def test_an_unknown_workspace_is_told_so(client, integration, member):
    integration.config = {"team_id": "TOTHER"}
    integration.save()
    assert command(client, "health").json()["text"] == "This Slack workspace is not connected to Switchyard."


# ---------------------------------------------------------------- connect and post


@responses.activate
def test_oauth_v2_access__ok_stores_the_bot_token_and_the_workspace(integration, connector):
    integration.config = {}
    recorded.replay("POST", "https://slack.com/api/oauth.v2.access", "oauth_v2_access__ok")
    tokens = connector.exchange_code("1234.5678", redirect_uri="https://switchyard.example/api/oauth/callback/slack/")
    assert tokens.access_token == "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy"
    assert tokens.expires_at is None and tokens.scope == ("chat:write", "commands", "users:read", "users:read.email")
    integration.refresh_from_db()
    assert integration.config == {"team_id": "T9TK3CUKW", "team_name": "Slack Softball Team",
                                  "bot_user_id": "U0KRQLJ9H"}
    sent = responses.calls[0].request.body
    assert "client_id=cid" in sent and "client_secret=csec" in sent and "code=1234.5678" in sent


@responses.activate
def test_oauth_v2_access__invalid_code_is_refused(integration, connector):
    recorded.replay("POST", "https://slack.com/api/oauth.v2.access", "oauth_v2_access__invalid_code")
    with pytest.raises(ProviderError, match="invalid_code"):
        connector.exchange_code("bad")


@responses.activate
def test_auth_test__ok_is_the_connection_test(integration, connector):
    recorded.replay("POST", "https://slack.com/api/auth.test", "auth_test__ok")
    result = connector.test_connection()
    assert result.ok and "Subarachnoid Workspace" in result.detail


@responses.activate
def test_chat_post_message__ok_escapes_what_it_quotes(integration, connector):
    recorded.replay("POST", "https://slack.com/api/chat.postMessage", "chat_postMessage__ok")
    message = NoticeMessage(title="Low stock <!channel>", text="a < b & <https://evil|click>", state="info")
    assert connector.send_notice(message, target=" C0123ABCD ") == "1503435956.000247"
    body = sent_json(responses.calls[0])
    assert body["channel"] == "C0123ABCD"
    assert body["blocks"][1]["text"]["text"] == "a &lt; b &amp; &lt;https://evil|click&gt;"


@responses.activate
def test_chat_post_message__ratelimited_waits_what_slack_asks(integration, connector, sleeps):
    recorded.replay("POST", "https://slack.com/api/chat.postMessage", "chat_postMessage__ratelimited")
    recorded.replay("POST", "https://slack.com/api/chat.postMessage", "chat_postMessage__ok")
    connector.send_notice(NoticeMessage(title="t", text=""), target="C1")
    assert sleeps == [1.0] and len(responses.calls) == 2


@responses.activate
def test_a_revoked_token_is_an_auth_error(integration, connector):
    responses.add("POST", "https://slack.com/api/chat.postMessage", json={"ok": False, "error": "token_revoked"})
    with pytest.raises(AuthExpired):
        connector.send_notice(NoticeMessage(title="t"), target="C1")
    assert json.loads(responses.calls[0].request.body)["text"] == ":rotating_light: t"
    integration.refresh_from_db()
    assert integration.status == "error" and "token_revoked" in integration.last_error


@responses.activate
def test_a_workspace_connected_by_two_organizations_answers_for_neither(client, integration, other_org, member):
    IntegrationFactory(organization=other_org, provider="slack", type="api", code="their-slack",
                       access_token="xoxb-other", config={"team_id": TEAM})
    answer = command(client, "health").json()
    assert "several Switchyard organizations" in answer["text"] and len(responses.calls) == 0
