"""Social records: the one import path writes accounts, posts, daily metrics and comments; publishing is an
idempotent job; the API creates (publish or schedule) within the platform's limits; content.published syncs."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone

from connectors import registry
from connectors.errors import ProviderUnavailable
from social.models import Comment, Post, PostMetrics, SocialAccount
from social.services import post_create, post_publish, posts_due
from social.tasks import publish_post
from syncjobs.resources import ImportSource, resource_import
from tests.connectors.http_fakes import fake_public_dns
from tests.factories import IntegrationFactory

from .fakes import FakeSocialConnector

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fake_platform(monkeypatch):
    registry.register(FakeSocialConnector)
    FakeSocialConnector.platform = {}
    fake_public_dns(monkeypatch)
    yield FakeSocialConnector
    registry.unregister("fake-social")


@pytest.fixture
def account(org):
    integration = IntegrationFactory(organization=org, provider="fake-social", code="social-a",
                                     auto_sync_enabled=True)
    return SocialAccount.objects.create(organization=org, integration=integration, external_id="acc-1",
                                        handle="@shop")


@pytest.fixture
def queued(monkeypatch):
    sent: list[int] = []
    monkeypatch.setattr(publish_post, "delay", lambda post_id: sent.append(post_id))
    return sent


def test_the_import_path_upserts_accounts_posts_metrics_and_comments(account):
    integration = account.integration
    result = resource_import(integration, "social_accounts",
                             [{"id": "acc-1", "handle": "@shop2", "followers": 10}, {"id": "acc-2", "name": "B"}],
                             source=ImportSource.SYNC)
    assert (result.created, result.updated) == (1, 1)
    day = date(2026, 12, 1)
    record = {"id": "p1", "account": "acc-1", "caption": "hi",
              "metrics": {"date": day, "views": 5, "likes": 2},
              "comments": [{"external_id": "c1", "author": "ann", "text": "nice"}]}
    first = resource_import(integration, "posts", [record, {"id": "p2", "account": "ghost"}],
                            source=ImportSource.SYNC)
    assert first.created == 1 and [f["reason"] for f in first.failed] == ["unknown_account"]
    again = resource_import(integration, "posts", [record], source=ImportSource.SYNC)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 1)
    record["metrics"] = {"date": day, "views": 9, "likes": 2}
    assert resource_import(integration, "posts", [record], source=ImportSource.SYNC).updated == 1
    post = Post.objects.get(external_id="p1")
    assert post.status == "published" and post.account.handle == "@shop2"
    assert list(PostMetrics.objects.filter(post=post).values_list("date", "views")) == [(day, 9)]
    assert Comment.objects.get(post=post).text == "nice"


def test_a_publish_retried_after_a_timeout_creates_one_post(account, queued, django_capture_on_commit_callbacks):
    FakeSocialConnector.platform["timeout_once"] = True
    with django_capture_on_commit_callbacks(execute=True):
        post, created = post_create(account=account, kind="post", caption="hello", request_id="req-1")
    assert created and queued == [post.pk]

    with pytest.raises(ProviderUnavailable):  # the platform posted, then the answer timed out
        post_publish(post_id=post.pk)
    post.refresh_from_db()
    assert post.status == "publishing" and post.publish_state == {"remote_id": "remote-1"}

    published = post_publish(post_id=post.pk)  # the job's retry resumes from the checkpoint
    assert published.status == "published" and published.external_id == "remote-1"
    assert FakeSocialConnector.platform["created"] == ["remote-1"]  # one post at the platform
    assert post_publish(post_id=post.pk).external_id == "remote-1"  # a duplicate message does nothing
    assert len(FakeSocialConnector.platform["calls"]) == 2

    again, created = post_create(account=account, kind="post", caption="hello", request_id="req-1")
    assert not created and again.pk == post.pk and Post.objects.count() == 1


def test_platform_limits_refuse_before_anything_is_stored(account, operator_api, queued):
    answer = operator_api.post("/api/posts/", {"account": account.pk, "kind": "post", "caption": "x" * 21,
                                               "media_urls": ["https://cdn.example/a.png"]}, format="json")
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert "caption" in error["details"] and "media_urls" in error["details"]
    inward = operator_api.post("/api/posts/", {"account": account.pk, "kind": "video",
                                               "media_urls": ["https://127.0.0.1/v.mp4"]}, format="json")
    assert inward.status_code == 400 and "media_urls.0" in inward.json()["error"]["details"]
    assert Post.objects.count() == 0 and queued == []


def test_the_api_publishes_schedules_and_answers_a_retry_with_the_same_post(
        account, operator_api, viewer_api, queued, org, other_org, api_client_for,
        django_capture_on_commit_callbacks):
    body = {"account": account.pk, "kind": "video", "caption": "new drop", "request_id": "r-9",
            "media_urls": ["https://cdn.example/v.mp4"]}
    with django_capture_on_commit_callbacks(execute=True):
        first = operator_api.post("/api/posts/", body, format="json")
        second = operator_api.post("/api/posts/", body, format="json")
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"] and first.json()["status"] == "publishing"
    assert queued == [first.json()["id"]]

    later = (timezone.now() + timedelta(hours=2)).isoformat()
    scheduled = operator_api.post("/api/posts/", {**body, "request_id": "r-10", "scheduled_at": later},
                                  format="json")
    assert scheduled.status_code == 201 and scheduled.json()["status"] == "scheduled"
    assert viewer_api.post("/api/posts/", {**body, "request_id": "r-11"}, format="json").status_code == 403

    post = Post.objects.get(pk=first.json()["id"])
    PostMetrics.objects.create(post=post, date=date(2026, 12, 2), views=7)
    metrics = viewer_api.get(f"/api/posts/{post.pk}/metrics/")
    assert metrics.status_code == 200 and metrics.json() == [
        {"date": "2026-12-02", "views": 7, "likes": 0, "comments": 0, "shares": 0, "saves": 0, "reach": 0}]
    accounts = viewer_api.get("/api/social-accounts/").json()
    rows = accounts["results"] if isinstance(accounts, dict) else accounts
    assert [a["handle"] for a in rows] == ["@shop"]
    stranger = api_client_for(other_org, "admin")
    assert stranger.get(f"/api/posts/{post.pk}/").status_code == 404
    assert stranger.post("/api/posts/", {**body, "request_id": "r-12"}, format="json").status_code == 404


def test_scheduled_posts_are_claimed_once_when_due(account, queued):
    post, _ = post_create(account=account, kind="post", caption="soon",
                          scheduled_at=timezone.now() + timedelta(minutes=5))
    assert posts_due() == []
    Post.objects.filter(pk=post.pk).update(scheduled_at=timezone.now() - timedelta(seconds=1))
    assert posts_due() == [post.pk]
    assert posts_due() == []  # claimed: the next beat tick does not queue it again
    assert post_publish(post_id=post.pk).status == "published"


def test_metrics_of_another_organizations_post_are_not_found(account, api_client_for, other_org):
    post = Post.objects.create(organization=account.organization, account=account, status="published")
    PostMetrics.objects.create(post=post, date=date(2026, 12, 2), views=7)
    answer = api_client_for(other_org, "viewer").get(f"/api/posts/{post.pk}/metrics/")
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "NOT_FOUND"


def test_a_post_published_without_the_platform_naming_it_is_the_one_the_sync_finds(account):
    """TikTok names no post id for a private (SELF_ONLY) post, and Instagram's lost-answer recovery may not find
    the media yet: the post is published with no external id. The sync that later lists it must complete that
    row, not add a second post for the same platform post."""
    ours = Post.objects.create(organization=account.organization, account=account, kind="video",
                               caption="Winter drop #acme", status="published", request_id="r-1",
                               published_at=timezone.now())
    other_draft = Post.objects.create(organization=account.organization, account=account, kind="video",
                                      caption="Winter drop #acme", status="failed", request_id="r-2")
    result = resource_import(account.integration, "posts",
                             [{"id": "v-77", "account": "acc-1", "caption": "Winter drop #acme"},
                              {"id": "v-78", "account": "acc-1", "caption": "Someone else's words"}],
                             source=ImportSource.SYNC)
    assert (result.created, result.updated, result.failed) == (1, 1, [])
    ours.refresh_from_db()
    assert ours.external_id == "v-77" and ours.request_id == "r-1"
    assert Post.objects.filter(account=account).count() == 3
    other_draft.refresh_from_db()
    assert other_draft.external_id == ""
