"""The social admin: accounts with their integration's health, posts with status and last error, metrics.

Rows are written by social.services only (imports and the publishing job), so the lists are read-only;
an operator retries a failed post with an action that queues the publishing job again (it resumes from the
post's checkpoint, so nothing is posted twice).
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db import transaction

from console.scoping import OrganizationScopedAdmin
from social.models import Comment, Post, PostMetrics, PostStatus, SocialAccount
from social.tasks import publish_post


class ReadOnly:
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(SocialAccount)
class SocialAccountAdmin(ReadOnly, OrganizationScopedAdmin):
    list_display = ("__str__", "name", "integration", "followers", "integration_status", "last_error",
                    "updated_at")
    list_filter = ("integration__provider",)
    search_fields = ("handle", "name", "external_id")
    list_select_related = ("integration",)

    @admin.display(description="Integration status")
    def integration_status(self, obj: SocialAccount) -> str:
        return obj.integration.status

    @admin.display(description="Last error")
    def last_error(self, obj: SocialAccount) -> str:
        return (obj.integration.last_error or "")[:120]


class PostMetricsInline(admin.TabularInline):
    model = PostMetrics
    extra = 0
    can_delete = False
    readonly_fields = ("date", "views", "likes", "comments", "shares", "saves", "reach")


@admin.register(Post)
class PostAdmin(ReadOnly, OrganizationScopedAdmin):
    list_display = ("__str__", "account", "status", "short_error", "scheduled_at", "published_at", "attempts")
    list_filter = ("status", "kind", "account__integration__provider")
    search_fields = ("external_id", "caption", "request_id")
    list_select_related = ("account",)
    inlines = [PostMetricsInline]
    actions = ["retry_publish"]

    @admin.display(description="Last error")
    def short_error(self, obj: Post) -> str:
        return (obj.error or "")[:120]

    @admin.action(description="Retry publishing the selected failed posts", permissions=["operate"])
    def retry_publish(self, request, queryset) -> None:
        ids = list(queryset.filter(status=PostStatus.FAILED).values_list("pk", flat=True))
        with transaction.atomic():
            Post.objects.filter(pk__in=ids).update(status=PostStatus.PUBLISHING, error="")
            for post_id in ids:
                transaction.on_commit(lambda post_id=post_id: publish_post.delay(post_id))
        self.message_user(request, f"{len(ids)} post(s) queued for publishing.", messages.SUCCESS)


@admin.register(Comment)
class CommentAdmin(ReadOnly, OrganizationScopedAdmin):
    organization_path = "post__organization"
    list_display = ("external_id", "post", "author", "like_count", "commented_at")
    search_fields = ("external_id", "author", "text")
