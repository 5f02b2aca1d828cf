"""What the social API shows and accepts (tokens never appear: an account names its integration by code)."""

from __future__ import annotations

from rest_framework import serializers

from .models import Post, PostKind, PostMetrics, SocialAccount


class SocialAccountSerializer(serializers.ModelSerializer):
    integration = serializers.SlugRelatedField(slug_field="code", read_only=True)
    provider = serializers.CharField(source="integration.provider", read_only=True)
    integration_status = serializers.CharField(source="integration.status", read_only=True)
    last_error = serializers.CharField(source="integration.last_error", read_only=True)

    class Meta:
        model = SocialAccount
        fields = ["id", "integration", "provider", "integration_status", "last_error", "external_id", "handle",
                  "name", "followers", "picture_url", "updated_at"]


class PostSerializer(serializers.ModelSerializer):
    account = serializers.PrimaryKeyRelatedField(read_only=True)

    class Meta:
        model = Post
        fields = ["id", "account", "external_id", "kind", "caption", "title", "media_urls", "permalink",
                  "published_at", "scheduled_at", "status", "error", "request_id", "attempts", "created_at",
                  "updated_at"]


class PostCreateSerializer(serializers.Serializer):
    """Publish now, or at `scheduled_at`. `request_id` makes the create idempotent: sent again (a retry after a
    timeout), it answers the post the first one created (200) instead of a second (201)."""

    account = serializers.IntegerField(help_text="A social account id (GET /api/social-accounts/).")
    kind = serializers.ChoiceField(choices=PostKind.choices, default=PostKind.POST)
    caption = serializers.CharField(required=False, allow_blank=True, default="", trim_whitespace=False)
    title = serializers.CharField(required=False, allow_blank=True, default="")
    media_urls = serializers.ListField(child=serializers.URLField(max_length=2000), required=False, default=list,
                                       max_length=20)
    scheduled_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    request_id = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)


class PostMetricsSerializer(serializers.ModelSerializer):
    class Meta:
        model = PostMetrics
        fields = ["date", "views", "likes", "comments", "shares", "saves", "reach"]
