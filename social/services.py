"""The writers of the social records: the import upserts (called by syncjobs/resources.py) and publishing.

Import: `upsert_social_accounts` and `upsert_posts` take records normalized by the connector
(connectors/capabilities.py `SocialChannel`) and write them idempotently: a row per (integration, external id),
a post's metrics per day (the latest reading of a day wins), its comments by their id. A post we published whose
id the platform never told is completed by the first listed post with its caption, not doubled. A post whose account is
not imported yet fails with reason `unknown_account` (accounts come first in the job).

Publishing: `post_create` checks the post against the platform's limits and the SSRF guard before anything is
stored or called (a 400 envelope naming the fields), and answers the existing post for a request id it has seen
(the API client's retry after a timeout). `post_publish` runs in the job (social/tasks.py): it hands the
connector the checkpoint of the previous attempt, so a job retried after a timeout resumes at the platform
instead of posting twice; a refused token goes to the integration's health through the HTTP client (needs-reauth).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from config.errors import ApplicationError, CapabilityNotSupported, ValidationError
from connectors import registry
from connectors.base import Capability
from connectors.capabilities import PublishRequest
from connectors.errors import ProviderError, is_transient
from connectors.outbound import check_outbound_url
from integrations.models import Integration

from .models import Comment, Post, PostKind, PostMetrics, PostStatus, SocialAccount

ACCOUNT_FIELDS = ("handle", "name", "followers", "picture_url")
POST_FIELDS = ("kind", "caption", "title", "media_urls", "permalink", "published_at")
METRIC_FIELDS = ("views", "likes", "comments", "shares", "saves", "reach")


@dataclass
class UpsertResult:
    """What a writer did with a page (the shape syncjobs/resources.py reads)."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: list[dict] = field(default_factory=list)

    def fail(self, external_id: Any, error: str, *, reason: str = "invalid") -> None:
        self.failed.append({"external_id": str(external_id or ""), "error": error, "reason": reason})


def _apply(row: Any, values: dict[str, Any]) -> bool:
    changed = False
    for name, value in values.items():
        if getattr(row, name) != value:
            setattr(row, name, value)
            changed = True
    return changed


@transaction.atomic
def upsert_social_accounts(*, integration: Integration, accounts: list[dict[str, Any]]) -> UpsertResult:
    result = UpsertResult()
    for item in accounts:
        values = {name: item[name] for name in ACCOUNT_FIELDS if item.get(name) is not None}
        row, created = SocialAccount.objects.get_or_create(
            integration=integration, external_id=str(item["external_id"]),
            defaults={"organization_id": integration.organization_id, **values})
        if created:
            result.created += 1
        elif _apply(row, values):
            row.save()
            result.updated += 1
        else:
            result.unchanged += 1
    return result


@transaction.atomic
def upsert_posts(*, integration: Integration, posts: list[dict[str, Any]]) -> UpsertResult:
    result = UpsertResult()
    accounts = {a.external_id: a for a in SocialAccount.objects.filter(integration=integration)}
    for item in posts:
        external_id = str(item["external_id"])
        account = accounts.get(str(item.get("account_external_id") or ""))
        if account is None and len(accounts) == 1 and not item.get("account_external_id"):
            account = next(iter(accounts.values()))
        if account is None:
            result.fail(external_id, f"Account {item.get('account_external_id')!r} is not imported yet.",
                        reason="unknown_account")
            continue
        values = {name: item[name] for name in POST_FIELDS if item.get(name) is not None}
        row = Post.objects.filter(account=account, external_id=external_id).first()
        if row is None:
            row = _published_unnamed(account, values.get("caption") or "")
            if row is not None:
                row.external_id = external_id
                _apply(row, values)
                row.save()
                _metrics_write(row, item.get("metrics"))
                _comments_write(row, item.get("comments") or [])
                result.updated += 1
                continue
        created = row is None
        if created:
            row = Post.objects.create(organization_id=integration.organization_id, account=account,
                                      external_id=external_id, status=PostStatus.PUBLISHED, **values)
            changed = False
        else:
            changed = _apply(row, values)
            if changed:
                row.save()
        changed |= _metrics_write(row, item.get("metrics"))
        changed |= _comments_write(row, item.get("comments") or [])
        if created:
            result.created += 1
        elif changed:
            result.updated += 1
        else:
            result.unchanged += 1
    return result


def _published_unnamed(account: SocialAccount, caption: str) -> Post | None:
    """A post we published that the platform did not name (TikTok gives no id for a private post; Instagram's
    lost-answer recovery may not list the media yet): the first listing with its caption is that post, so the
    sync completes our row instead of adding a second one. An empty caption matches nothing (too weak a key)."""
    if not caption:
        return None
    return (Post.objects.select_for_update()
            .filter(account=account, external_id="", status=PostStatus.PUBLISHED, caption=caption)
            .order_by("published_at", "pk").first())


def _metrics_write(post: Post, metrics: dict[str, Any] | None) -> bool:
    if not metrics:
        return False
    values = {name: int(metrics.get(name) or 0) for name in METRIC_FIELDS}
    row, created = PostMetrics.objects.get_or_create(post=post, date=metrics["date"], defaults=values)
    if created:
        return True
    if _apply(row, values):
        row.save()
        return True
    return False


def _comments_write(post: Post, comments: list[dict[str, Any]]) -> bool:
    changed = False
    for item in comments:
        values = {name: item[name] for name in ("author", "text", "like_count", "commented_at")
                  if item.get(name) is not None}
        row, created = Comment.objects.get_or_create(post=post, external_id=str(item["external_id"]),
                                                     defaults=values)
        if created:
            changed = True
        elif _apply(row, values):
            row.save()
            changed = True
    return changed


# ---------------------------------------------------------------- publishing
def post_create(
    *,
    account: SocialAccount,
    kind: str,
    caption: str = "",
    title: str = "",
    media_urls: list[str] | None = None,
    scheduled_at: datetime | None = None,
    request_id: str = "",
    enqueue: bool = True,
) -> tuple[Post, bool]:
    """Store a post to publish now (status publishing, job queued after commit) or at `scheduled_at` (scheduled).

    Answers (post, created). A `request_id` already used in the organization answers that post, unchanged and
    not queued again. Refused with VALIDATION_ERROR, nothing stored: a platform that cannot publish, a post
    over the platform's limits (caption length, media count and types), a media URL the SSRF guard refuses.
    """
    media_urls = list(media_urls or [])
    if request_id:
        existing = Post.objects.filter(organization_id=account.organization_id, request_id=request_id).first()
        if existing is not None:
            return existing, False
    integration = account.integration
    connector_class = registry.get(integration.provider)
    if not connector_class.supports(Capability.PUBLISH):
        raise CapabilityNotSupported(f"{connector_class.display_name} cannot publish posts.",
                                     details={"account": [f"{integration.provider} does not publish"]})
    problems = connector_class.post_limits.problems(kind=kind, caption=caption, title=title, media_urls=media_urls)
    for index, url in enumerate(media_urls):
        try:
            check_outbound_url(url, field=f"media_urls.{index}", require_https=True)
        except ApplicationError as exc:
            for name, messages in (exc.details or {}).items():
                problems.setdefault(name, []).extend(messages)
    if problems:
        raise ValidationError(f"This post does not fit {connector_class.display_name}'s limits.", details=problems)
    if scheduled_at is not None and scheduled_at <= timezone.now():
        scheduled_at = None
    post = Post(organization_id=account.organization_id, account=account, kind=kind, caption=caption, title=title,
                media_urls=media_urls, scheduled_at=scheduled_at, request_id=request_id,
                status=PostStatus.SCHEDULED if scheduled_at else PostStatus.PUBLISHING)
    try:
        with transaction.atomic():
            post.save()
    except IntegrityError:  # the same request id at the same instant: the other one won
        return Post.objects.get(organization_id=account.organization_id, request_id=request_id), False
    if enqueue and post.status == PostStatus.PUBLISHING:
        _enqueue(post)
    return post, True


def _enqueue(post: Post) -> None:
    from .tasks import publish_post  # the task module imports this one

    transaction.on_commit(lambda: publish_post.delay(post.pk))


class PublishPending(Exception):
    """The platform is still processing the post: run the job again later (it resumes from the checkpoint)."""


def post_publish(*, post_id: int) -> Post:
    """One attempt at publishing a post (the job's body; safe to run again).

    A post already published, failed or not due is left alone. Transient provider errors (timeouts, 5xx, 429)
    propagate for the job to retry with the checkpoint kept; PublishPending likewise. Any other error fails the
    post with the platform's message in `error`.
    """
    with transaction.atomic():
        post = Post.objects.select_for_update().select_related("account__integration").get(pk=post_id)
        if post.status == PostStatus.SCHEDULED and post.scheduled_at and post.scheduled_at <= timezone.now():
            post.status = PostStatus.PUBLISHING
        if post.status != PostStatus.PUBLISHING:
            return post
        post.attempts += 1
        post.save(update_fields=["status", "attempts", "updated_at"])
    connector = registry.connector_for(post.account.integration)

    def checkpoint(state: dict[str, Any]) -> None:
        post.publish_state = {**post.publish_state, **state}
        Post.objects.filter(pk=post.pk).update(publish_state=post.publish_state, updated_at=timezone.now())

    request = PublishRequest(request_id=post.request_id or f"post-{post.pk}",
                             account_external_id=post.account.external_id,
                             kind=post.kind, caption=post.caption, title=post.title,
                             media_urls=tuple(post.media_urls), state=dict(post.publish_state))
    try:
        outcome = connector.publish_post(request, checkpoint)
    except ProviderError as exc:
        if is_transient(exc):
            raise
        return _fail(post, exc.message)
    except ValidationError as exc:
        return _fail(post, exc.message)
    if not outcome.done:
        raise PublishPending(post.pk)
    post.status = PostStatus.PUBLISHED
    post.external_id = outcome.external_id
    post.permalink = outcome.permalink or post.permalink
    post.published_at = outcome.published_at or timezone.now()
    post.error = ""
    post.save(update_fields=["status", "external_id", "permalink", "published_at", "error", "updated_at"])
    return post


def _fail(post: Post, message: str) -> Post:
    post.status = PostStatus.FAILED
    post.error = message[:2000]
    post.save(update_fields=["status", "error", "updated_at"])
    return post


STALE_PUBLISHING = timedelta(minutes=15)


def posts_due() -> list[int]:
    """The posts the beat job queues: scheduled ones whose time has come (claimed here, so each is queued once),
    and ones left publishing with no attempt for STALE_PUBLISHING (a lost message or a dead worker)."""
    now = timezone.now()
    with transaction.atomic():
        due = list(Post.objects.select_for_update(skip_locked=True)
                   .filter(status=PostStatus.SCHEDULED, scheduled_at__lte=now).values_list("pk", flat=True))
        Post.objects.filter(pk__in=due).update(status=PostStatus.PUBLISHING, updated_at=now)
    stale = list(Post.objects.filter(status=PostStatus.PUBLISHING, updated_at__lt=now - STALE_PUBLISHING)
                 .values_list("pk", flat=True))
    return due + stale


__all__ = ["PostKind", "post_create", "post_publish", "posts_due", "upsert_posts", "upsert_social_accounts"]


def publish_gave_up(*, post_id: int, message: str) -> None:
    """The job ran out of retries: the post fails with the last reason (the checkpoint stays for an operator)."""
    post = Post.objects.get(pk=post_id)
    if post.status == PostStatus.PUBLISHING:
        _fail(post, f"Gave up after {post.attempts} attempts: {message}")
