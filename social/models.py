"""The organization's social presence: connected accounts, their posts, daily post metrics and comments.

Only `social.services` writes these rows. Channel data arrives through the one import path
(syncjobs/resources.py `resource_import`); posts the organization publishes are created by
`social.services.post_create` and published by the `social.tasks.publish_post` job.

Idempotency lives in the database: one Post per (organization, request_id), so an API client that retries a
create after a timeout gets the same post, and one Post per (integration, external_id), so a sync that later
sees the published post updates the row we created instead of adding a second.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from accounts.models import Organization
from integrations.models import Integration


class SocialAccount(models.Model):
    """A connected profile, page or channel (one integration may reach several: a user's Facebook Pages)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="social_accounts")
    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="social_accounts")
    external_id = models.CharField(max_length=200)
    handle = models.CharField(max_length=200, blank=True)
    name = models.CharField(max_length=300, blank=True)
    followers = models.BigIntegerField(null=True, blank=True)
    picture_url = models.URLField(max_length=2000, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["integration", "external_id"], name="socialaccount_unique")]
        ordering = ["organization_id", "name"]

    def __str__(self) -> str:
        return self.handle or self.name or self.external_id


class PostStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SCHEDULED = "scheduled", "Scheduled"
    PUBLISHING = "publishing", "Publishing"
    PUBLISHED = "published", "Published"
    FAILED = "failed", "Failed"


class PostKind(models.TextChoices):
    POST = "post", "Post (text, link or image)"
    VIDEO = "video", "Video"
    REEL = "reel", "Reel / short"
    STORY = "story", "Story"
    CAROUSEL = "carousel", "Carousel"


class Post(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="social_posts")
    account = models.ForeignKey(SocialAccount, on_delete=models.CASCADE, related_name="posts")
    external_id = models.CharField(max_length=200, blank=True)  # empty until the platform names it
    kind = models.CharField(max_length=20, choices=PostKind.choices, default=PostKind.POST)
    caption = models.TextField(blank=True)
    title = models.CharField(max_length=300, blank=True)  # videos have one (YouTube, TikTok)
    media_urls = models.JSONField(default=list, blank=True)
    permalink = models.URLField(max_length=2000, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    scheduled_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=20, choices=PostStatus.choices, default=PostStatus.DRAFT, db_index=True)
    error = models.TextField(blank=True)
    # The API client's idempotency key: a create retried with the same one answers the same post.
    request_id = models.CharField(max_length=200, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    # A multi-step publish's checkpoint (a container id, an upload session, a publish id): a retried job resumes
    # from it instead of creating a second post at the platform.
    publish_state = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "request_id"], condition=~Q(request_id=""),
                                    name="post_org_request_id"),
            models.UniqueConstraint(fields=["account", "external_id"], condition=~Q(external_id=""),
                                    name="post_account_external_id"),
        ]
        indexes = [models.Index(fields=["organization", "status", "scheduled_at"], name="post_org_status_due")]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.external_id or self.pk} ({self.status})"


class PostMetrics(models.Model):
    """One day of a post's numbers as the platform reported them (the latest reading of that day wins)."""

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="metrics")
    date = models.DateField()
    views = models.BigIntegerField(default=0)
    likes = models.BigIntegerField(default=0)
    comments = models.BigIntegerField(default=0)
    shares = models.BigIntegerField(default=0)
    saves = models.BigIntegerField(default=0)
    reach = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["post", "date"], name="postmetrics_post_date")]
        ordering = ["post_id", "date"]

    def __str__(self) -> str:
        return f"{self.post_id} on {self.date}"


class Comment(models.Model):
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="comments_received")
    external_id = models.CharField(max_length=200)
    author = models.CharField(max_length=300, blank=True)
    text = models.TextField(blank=True)
    like_count = models.BigIntegerField(default=0)
    commented_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["post", "external_id"], name="comment_post_external_id")]
        ordering = ["post_id", "commented_at"]

    def __str__(self) -> str:
        return self.external_id
