"""The LinkedIn connector against recorded answers (tests/fixtures/linkedin/): connect without PKCE and discovery by
/v2/userinfo, a refresh only where LinkedIn granted a refresh token (and needs-reauth, without a call, where it did
not), posts paged by start/count with member post analytics where those scopes were granted (skipped where not),
the versioned Posts API publish with its headers and exact body, the URN from x-restli-id, a retry after a timeout
adopting the post LinkedIn calls a duplicate, and a sunset version (426) as a clear error."""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import parse_qs

import pytest
import requests
import responses
from django.test import Client
from django.utils import timezone

from connectors.errors import AuthExpired, ProviderError, ProviderUnavailable, RefreshFailed
from connectors.linkedin import connector as module
from connectors.linkedin.connector import little_text, plain_text
from connectors.sessions import close_sessions
from integrations.health_selectors import integration_health
from integrations.models import Integration
from social.models import Post, PostMetrics, SocialAccount
from social.services import post_publish
from syncjobs.resources import ImportSource, resource_import
from tests.connectors.support import Recorded, sent_json
from tests.factories import IntegrationFactory
from tests.integrations.oauth_fakes import REDIRECT_URI, callback_path, outcome

recorded = Recorded("linkedin")
API = "https://api.linkedin.com"
TOKEN = "https://www.linkedin.com/oauth/v2/accessToken"
AUTHOR = "urn:li:person:782bbtaQ"
CALLBACK = "https://switchyard.example/api/oauth/callback/linkedin/"
MEMBER_SCOPES = ["email", "openid", "profile", "w_member_social"]
PARTNER_SCOPES = [*MEMBER_SCOPES, "r_member_social", "r_member_postAnalytics"]


@pytest.fixture
def integration(db, public_dns, sleeps, settings):
    settings.PROVIDER_SETTINGS = {"linkedin": {"CLIENT_ID": "li-client", "CLIENT_SECRET": "li-secret",
                                               "API_VERSION": "202603"}}
    yield IntegrationFactory(provider="linkedin", type="social", code="linkedin", status="active",
                             access_token="AQVmemberAccessTokenExample000000000000001", refresh_token="",
                             expires_at=timezone.now() + timedelta(days=50), scope=MEMBER_SCOPES,
                             config={"person_urn": AUTHOR})
    close_sessions()


@pytest.fixture
def partner(integration):
    integration.refresh_token = "AQWpartnerRefreshTokenExample0000000000001"
    integration.scope = PARTNER_SCOPES
    integration.save()
    return integration


@pytest.fixture
def account(integration):
    return SocialAccount.objects.create(organization=integration.organization, integration=integration,
                                        external_id=AUTHOR, name="Ana Popescu")


def form(call) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(call.request.body).items()}


@responses.activate
def test_connect_without_pkce_then_discovers_the_member(integration, connector, settings):
    integration.config = {}
    assert connector.describe()["oauth"]["pkce"] is False  # so the flow sends no challenge
    url = connector.authorize_url(state="s1", redirect_uri=CALLBACK, scopes=connector.oauth.default_scopes)
    assert url.startswith("https://www.linkedin.com/oauth/v2/authorization?")
    query = {k: v[0] for k, v in parse_qs(url.split("?", 1)[1]).items()}
    assert query["scope"] == "openid profile email w_member_social" and "code_challenge" not in query
    settings.PROVIDER_SETTINGS["linkedin"]["EXTRA_SCOPES"] = "r_member_social r_member_postAnalytics"
    assert connector.oauth_meta().default_scopes[-2:] == ("r_member_social", "r_member_postAnalytics")

    recorded.replay("POST", TOKEN, "oauth_token__member")
    recorded.replay("GET", f"{API}/v2/userinfo", "userinfo__ok")
    got = connector.exchange_code("code-1", redirect_uri=CALLBACK)
    assert form(responses.calls[0]) == {"grant_type": "authorization_code", "code": "code-1",
                                        "redirect_uri": CALLBACK, "client_id": "li-client",
                                        "client_secret": "li-secret"}
    assert got.refresh_token is None and set(got.scope) == set(MEMBER_SCOPES)  # LinkedIn's list is comma-separated
    assert timedelta(days=59) < got.expires_at - timezone.now() <= timedelta(days=60)
    integration.access_token = got.access_token
    assert connector.account_display_name() == "Ana Popescu"
    assert integration.config == {"person_urn": AUTHOR}
    assert connector.normalize_social_account(recorded("userinfo__ok")["body"]) == {
        "external_id": AUTHOR, "handle": "ana@acme.example", "name": "Ana Popescu", "followers": None,
        "picture_url": "https://media.licdn.com/dms/image/v2/ana/profile-displayphoto-shrink_100_100/0"}


@responses.activate
def test_a_partner_token_is_refreshed_and_the_refresh_tokens_lifetime_kept(partner, connector):
    recorded.replay("POST", TOKEN, "oauth_refresh__ok")
    got = connector.refresh_access_token()
    assert form(responses.calls[0]) == {"grant_type": "refresh_token",
                                        "refresh_token": "AQWpartnerRefreshTokenExample0000000000001",
                                        "client_id": "li-client", "client_secret": "li-secret"}
    assert got.access_token == "AQVrefreshedAccessTokenExample0000000000002"
    assert "refresh_token_expires_at" not in partner.config  # a refresh does not extend it

    responses.reset()
    recorded.replay("POST", TOKEN, "oauth_token__partner")
    got = connector.exchange_code("code-2", redirect_uri=CALLBACK)
    assert got.refresh_token == "AQWpartnerRefreshTokenExample0000000000001"
    lasts = datetime.fromisoformat(partner.config["refresh_token_expires_at"]) - timezone.now()
    assert timedelta(days=364) < lasts <= timedelta(days=365)  # from the first consent


@responses.activate
def test_without_a_refresh_token_the_operator_is_warned_then_asked_to_reconnect(integration, connector):
    integration.expires_at = timezone.now() + timedelta(days=2)
    integration.save()
    health = integration_health(integration)
    assert health.state == "degraded" and any("no refresh token" in r for r in health.reasons)

    integration.expires_at = timezone.now() - timedelta(minutes=1)
    integration.save()
    assert integration_health(integration).state == "needs_reauth"
    with pytest.raises(RefreshFailed):
        list(connector.iter_social_accounts())
    assert len(responses.calls) == 0  # nothing to refresh with: LinkedIn is not asked
    integration.refresh_from_db()
    assert integration.status == "pending_auth" and "reconnect the integration" in integration.last_error


@responses.activate
def test_a_refused_token_puts_the_integration_in_needs_reauth(integration, connector):
    recorded.replay("GET", f"{API}/v2/userinfo", "unauthorized")
    with pytest.raises((RefreshFailed, AuthExpired)):
        list(connector.iter_social_accounts())
    integration.refresh_from_db()
    assert integration.status == "pending_auth"
    assert integration_health(integration).state == "needs_reauth"


def analytics_answer(request):
    """memberCreatorPostAnalytics: one metric per call, chosen by queryType."""
    query_type = parse_qs(request.url.split("?", 1)[1])["queryType"][0]
    body = recorded(f"analytics__{query_type.lower()}")["body"]
    return 200, {}, __import__("json").dumps(body)


@responses.activate
def test_posts_page_by_start_with_member_analytics_where_granted(partner, connector, monkeypatch):
    monkeypatch.setattr(module, "PAGE_SIZE", 2)
    SocialAccount.objects.create(organization=partner.organization, integration=partner, external_id=AUTHOR)
    recorded.replay("GET", f"{API}/rest/posts", "posts__page1")
    recorded.replay("GET", f"{API}/rest/posts", "posts__page2")
    responses.add_callback("GET", f"{API}/rest/memberCreatorPostAnalytics", callback=analytics_answer)
    pages = list(connector.iter_posts())

    lists = [c for c in responses.calls if "/rest/posts" in c.request.url]
    assert [c.request.url.split("?", 1)[1] for c in lists] == [
        "q=author&author=urn%3Ali%3Aperson%3A782bbtaQ&count=2&start=0",
        "q=author&author=urn%3Ali%3Aperson%3A782bbtaQ&count=2&start=2"]
    assert all(c.request.headers["LinkedIn-Version"] == "202603" for c in responses.calls)
    assert all(c.request.headers["X-Restli-Protocol-Version"] == "2.0.0" for c in responses.calls)
    analytics = [c.request.url.split("?", 1)[1] for c in responses.calls if "Analytics" in c.request.url]
    assert len(analytics) == 15  # 3 posts × 5 metrics
    assert analytics[0] == ("q=entity&entity=(share:urn%3Ali%3Ashare%3A7190000000000000002)&queryType=IMPRESSION"
                            "&aggregation=TOTAL")
    assert "entity=(ugc:urn%3Ali%3AugcPost%3A7180000000000000001)" in analytics[5]
    assert [p.next_cursor for p in pages] == ["2", None]

    result = resource_import(partner, "posts", [i for p in pages for i in p.items], source=ImportSource.SYNC,
                             connector=connector)
    assert (result.created, result.failed) == (3, [])
    post = Post.objects.get(external_id="urn:li:share:7190000000000000002")
    assert post.caption == "Winter drop is live (boots and coats) #1"
    assert post.permalink == "https://www.linkedin.com/feed/update/urn:li:share:7190000000000000002/"
    assert post.published_at.isoformat() == "2025-11-30T09:00:00+00:00"
    metrics = PostMetrics.objects.get(post=post)
    assert (metrics.views, metrics.reach, metrics.likes, metrics.comments, metrics.shares) == (5400, 3100, 210, 14, 6)


@responses.activate
def test_scopes_not_granted_are_skipped_not_failed(integration, partner, connector, monkeypatch):
    partner.scope = [*MEMBER_SCOPES, "r_member_social"]  # posts, but no analytics
    monkeypatch.setattr(module, "PAGE_SIZE", 2)
    recorded.replay("GET", f"{API}/rest/posts", "posts__page1")
    recorded.replay("GET", f"{API}/rest/posts", "posts__page2")
    records = [i for p in connector.iter_posts() for i in p.items]
    assert len(records) == 3 and not any("Analytics" in c.request.url for c in responses.calls)
    assert connector.normalize_post(records[0])["metrics"] is None

    responses.reset()
    partner.scope = MEMBER_SCOPES  # a member app: LinkedIn lets it read none of the member's posts
    assert [p.items for p in connector.iter_posts()] == [[]] and len(responses.calls) == 0


def test_commentary_is_escaped_as_little_text_except_urls_and_hashtags():
    text = "Sale (today) on boots_2 @ 20% *off* #winter # https://shop.acme.example/a_(b)?c=[d]"
    escaped = little_text(text)
    assert escaped == ("Sale \\(today\\) on boots\\_2 \\@ 20% \\*off\\* #winter \\# "
                       "https://shop.acme.example/a_(b)?c=[d]")
    assert plain_text(escaped) == text


def text_post(account, **fields) -> Post:
    return Post.objects.create(organization=account.organization, account=account, kind="post",
                               caption="Winter drop (boots and coats) #winter", status="publishing", **fields)


EXPECTED_BODY = {"author": AUTHOR, "commentary": "Winter drop \\(boots and coats\\) #winter", "visibility": "PUBLIC",
                 "distribution": {"feedDistribution": "MAIN_FEED", "targetEntities": [],
                                  "thirdPartyDistributionChannels": []},
                 "lifecycleState": "PUBLISHED", "isReshareDisabledByAuthor": False}


@responses.activate
def test_publish_sends_the_versioned_post_and_reads_the_urn_from_the_header(account):
    recorded.replay("POST", f"{API}/rest/posts", "create_post__created")
    published = post_publish(post_id=text_post(account, request_id="r-1").pk)

    call = responses.calls[0]
    assert sent_json(call) == EXPECTED_BODY
    assert call.request.headers["LinkedIn-Version"] == "202603"
    assert call.request.headers["X-Restli-Protocol-Version"] == "2.0.0"
    assert (published.status, published.external_id) == ("published", "urn:li:share:7200000000000000001")
    assert published.permalink == "https://www.linkedin.com/feed/update/urn:li:share:7200000000000000001/"


@responses.activate
def test_a_publish_retried_after_a_timeout_adopts_the_post_linkedin_calls_a_duplicate(account):
    responses.add("POST", f"{API}/rest/posts", body=requests.ReadTimeout("timed out"))
    post = text_post(account, request_id="r-1")
    with pytest.raises(ProviderUnavailable):
        post_publish(post_id=post.pk)
    post.refresh_from_db()
    assert "sent_at" in post.publish_state and post.status == "publishing"

    responses.reset()
    recorded.replay("POST", f"{API}/rest/posts", "create_post__duplicate")  # the first attempt had landed
    published = post_publish(post_id=post.pk)
    assert sent_json(responses.calls[0]) == EXPECTED_BODY
    assert (published.status, published.external_id) == ("published", "urn:li:share:7200000000000000001")
    assert Post.objects.filter(account=account).count() == 1


@responses.activate
def test_a_duplicate_of_an_older_post_fails_a_first_attempt(account):
    recorded.replay("POST", f"{API}/rest/posts", "create_post__duplicate")
    failed = post_publish(post_id=text_post(account).pk)
    assert failed.status == "failed" and "duplicate of urn:li:share:7200000000000000001" in failed.error


@responses.activate
def test_a_sunset_version_is_a_clear_error(account, settings):
    settings.PROVIDER_SETTINGS = {"linkedin": {**settings.PROVIDER_SETTINGS["linkedin"], "API_VERSION": "202401"}}
    recorded.replay("POST", f"{API}/rest/posts", "create_post__version_sunset")
    failed = post_publish(post_id=text_post(account).pk)
    assert responses.calls[0].request.headers["LinkedIn-Version"] == "202401"
    assert failed.status == "failed"
    assert "no longer serves API version 202401" in failed.error and "LINKEDIN_API_VERSION" in failed.error
    with pytest.raises(ProviderError) as caught:
        module.LinkedInConnector(account.integration)._rest("POST", "/rest/posts", action="create_post", json={})
    assert caught.value.status_code == 426 and caught.value.details["LINKEDIN_API_VERSION"] == ["202401"]


@responses.activate
def test_a_connect_through_the_oauth_flow_sends_no_pkce(admin_api, org, public_dns, settings):
    settings.PROVIDER_SETTINGS = {"linkedin": {"CLIENT_ID": "li-client", "CLIENT_SECRET": "li-secret"}}
    settings.OAUTH_ALLOWED_REDIRECT_URIS = [REDIRECT_URI]
    answer = admin_api.post("/api/integrations/oauth/initiate/", {"provider": "linkedin", "redirect_uri": REDIRECT_URI},
                            format="json")
    assert answer.status_code == 201, answer.json()
    query = {k: v[0] for k, v in parse_qs(answer.json()["authorization_url"].split("?", 1)[1]).items()}
    assert "code_challenge" not in query

    recorded.replay("POST", TOKEN, "oauth_token__member")
    recorded.replay("GET", f"{API}/v2/userinfo", "userinfo__ok")
    result = outcome(Client().get(callback_path("linkedin"), {"state": query["state"], "code": "code-1"}))
    assert result["status"] == "success", result
    assert "code_verifier" not in form(responses.calls[0])
    row = Integration.objects.get(organization=org, provider="linkedin")
    assert (row.status, row.config["person_urn"], row.refresh_token) == ("active", AUTHOR, "")
    assert sorted(row.scope) == sorted(MEMBER_SCOPES)
