"""The console's social lists: posts with status and last error (another organization's are not listed), and the
retry action that queues failed posts again."""

from __future__ import annotations

import pytest

from social.models import Post, SocialAccount
from social.tasks import publish_post
from tests.factories import IntegrationFactory, OrganizationFactory

pytestmark = pytest.mark.django_db


def account_of(organization, code):
    integration = IntegrationFactory(organization=organization, provider="sandbox", code=code,
                                     last_error="token refused")
    return SocialAccount.objects.create(organization=organization, integration=integration, external_id=code,
                                        handle=f"@{code}")


def test_posts_list_shows_status_and_last_error_of_the_organization_only(org, staff):
    mine = Post.objects.create(organization=org, account=account_of(org, "ours"), status="failed",
                               error="Instagram could not prepare the media (container ERROR).")
    other = OrganizationFactory()
    Post.objects.create(organization=other, account=account_of(other, "theirs"), status="failed",
                        error="someone else's failure")
    page = staff(org, "viewer").get("/admin/social/post/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "container ERROR" in html and "someone else" not in html
    accounts = staff(org, "viewer").get("/admin/social/socialaccount/").content.decode()
    assert "@ours" in accounts and "token refused" in accounts and "@theirs" not in accounts
    assert mine.pk


def test_retry_queues_failed_posts_again(org, staff, monkeypatch, django_capture_on_commit_callbacks):
    sent: list[int] = []
    monkeypatch.setattr(publish_post, "delay", sent.append)
    post = Post.objects.create(organization=org, account=account_of(org, "ours"), status="failed", error="x")
    with django_capture_on_commit_callbacks(execute=True):
        staff(org, "operator").post("/admin/social/post/", {"action": "retry_publish",
                                                            "_selected_action": [post.pk]})
    post.refresh_from_db()
    assert (post.status, post.error, sent) == ("publishing", "", [post.pk])
