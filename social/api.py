"""The social REST API: accounts, posts (create = publish now or schedule), a post's daily metrics.

Every queryset is the tenant's: another organization's account or post is a 404. Viewers read; creating a
post (it publishes in the organization's name) needs an operator.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.tenancy import TenantScopedMixin
from config.api import error_responses
from config.errors import NotFound

from .models import Post, SocialAccount
from .serializers import PostCreateSerializer, PostMetricsSerializer, PostSerializer, SocialAccountSerializer
from .services import post_create


@extend_schema_view(
    list=extend_schema(summary="List the connected social accounts (profiles, pages, channels)",
                       responses={200: SocialAccountSerializer(many=True), **error_responses()}),
    retrieve=extend_schema(summary="Get a social account",
                           responses={200: SocialAccountSerializer, **error_responses(not_found="NOT_FOUND")}),
)
class SocialAccountViewSet(TenantScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                           viewsets.GenericViewSet):
    queryset = SocialAccount.objects.none()
    serializer_class = SocialAccountSerializer
    ordering = ["id"]

    def get_queryset(self):
        if self._fake:
            return SocialAccount.objects.none()
        return (SocialAccount.objects.filter(organization=self.organization).select_related("integration")
                .order_by("id"))


@extend_schema_view(
    list=extend_schema(summary="List posts with their status and last error",
                       responses={200: PostSerializer(many=True), **error_responses()}),
    retrieve=extend_schema(summary="Get a post", responses={200: PostSerializer,
                                                             **error_responses(not_found="NOT_FOUND")}),
)
class PostViewSet(TenantScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = Post.objects.none()
    serializer_class = PostSerializer
    ordering = ["-id"]
    operator_actions = ("create",)
    http_method_names = ["get", "post", "head", "options"]

    def get_queryset(self):
        if self._fake:
            return Post.objects.none()
        return Post.objects.filter(organization=self.organization).order_by("-id")

    @extend_schema(
        summary="Publish a post now, or schedule it",
        description="Checked against the platform's limits (caption length, media count and types) and the "
                    "outbound URL guard before anything is stored or sent. Publishing runs as a job: the answer is "
                    "the post in `publishing` (or `scheduled`); poll it for `published` or `failed` with `error`. "
                    "A `request_id` seen before answers that post with 200 and publishes nothing again.",
        request=PostCreateSerializer,
        responses={201: PostSerializer, 200: PostSerializer,
                   **error_responses(bad_request="VALIDATION_ERROR (`details` names each field over the platform's "
                                                 "limits or refused by the URL guard) or CAPABILITY_NOT_SUPPORTED",
                                     not_found="NOT_FOUND (the account)")},
    )
    def create(self, request: Request) -> Response:
        serializer = PostCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        account = (SocialAccount.objects.filter(organization=self.organization, pk=data.pop("account"))
                   .select_related("integration").first())
        if account is None:
            raise NotFound("No such social account.", details={"account": ["not found"]})
        post, created = post_create(account=account, **data)
        return Response(PostSerializer(post).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(summary="A post's metrics, one row per day", responses={
        200: PostMetricsSerializer(many=True), **error_responses(not_found="NOT_FOUND")})
    @action(detail=True, methods=["get"], pagination_class=None)
    def metrics(self, request: Request, pk: str) -> Response:
        post = self.get_object()
        return Response(PostMetricsSerializer(post.metrics.order_by("date"), many=True).data)
